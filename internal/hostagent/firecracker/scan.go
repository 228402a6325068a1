package firecracker

import (
	"encoding/json"
	"unicode/utf8"
)

// scanner walks a JSON object already checked by json.Valid, so it can
// skip values by their brackets and quotes alone without checking them
// again. It never reads beyond data, whatever data holds.
type scanner struct {
	data []byte
	i    int
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// members calls fn with each member of the object at the scanner: its key
// unescaped (the bytes valid only during fn) and its value as it stands in
// data.
func (s *scanner) members(fn func(key, value []byte)) {
	s.space()
	if s.peek() != '{' {
		return
	}
	s.i++
	for {
		s.space()
		if s.peek() != '"' {
			return // '}' or the end
		}
		key := s.str()
		s.space()
		if s.peek() != ':' {
			return
		}
		s.i++
		s.space()
		start := s.i
		s.skip()
		fn(unquote(key), s.data[start:s.i])
		s.space()
		if s.peek() != ',' {
			return
		}
		s.i++
	}
}

// str skips the string at the scanner and returns it with its quotes.
func (s *scanner) str() []byte {
	start := s.i
	s.i++
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			s.i++
			return s.data[start:min(s.i, len(s.data))]
		}
		s.i++
	}
	s.i = len(s.data)
	return s.data[start:]
}

// skip moves past the value at the scanner.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return
				}
			}
			s.i++
		}
	default: // a number, true, false or null
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return
			}
			s.i++
		}
	}
}

// unquote returns a quoted key's text: the bytes between the quotes when
// they are plain ASCII without escapes, else what encoding/json makes of
// them (escapes resolved, invalid UTF-8 replaced).
func unquote(q []byte) []byte {
	if len(q) < 2 {
		return nil
	}
	inner := q[1 : len(q)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return inner
	}
	var k string
	if json.Unmarshal(q, &k) != nil {
		return inner
	}
	return []byte(k)
}

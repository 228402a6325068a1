package procfs

import (
	"errors"
	"math"
	"strconv"
)

// The helpers below walk file content without allocating. They are generic
// over string and []byte so a parser that keeps names (meminfo) can convert
// the file to a string once and slice it, while the others stay on bytes.
type byteString interface{ ~string | ~[]byte }

var (
	errNotNumber = errors.New("not a number")
	errOverflow  = errors.New("out of range")
)

// lines iterates over newline-terminated lines, counting them from 1.
type lines[T byteString] struct {
	rest T
	n    int
}

// next returns the next line without its newline.
func (l *lines[T]) next() (line T, ok bool) {
	if len(l.rest) == 0 {
		return line, false
	}
	l.n++
	for i := 0; i < len(l.rest); i++ {
		if l.rest[i] == '\n' {
			line, l.rest = l.rest[:i], l.rest[i+1:]
			return line, true
		}
	}
	line, l.rest = l.rest, l.rest[len(l.rest):]
	return line, true
}

// checkTerminated reports a file whose last line lacks its newline: the
// kernel always ends these files with one, so its absence means the content
// was cut short.
func checkTerminated[T byteString](data T) error {
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	return lineErr(countLines(data)+1, "truncated: no newline at end of file")
}

// countLines returns the number of newlines in s.
func countLines[T byteString](s T) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			n++
		}
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// nextField splits off the first run of non-blank bytes of s.
func nextField[T byteString](s T) (field, rest T) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return s[i:j], s[j:]
}

// countFields returns the number of blank-separated fields in s.
func countFields[T byteString](s T) int {
	n := 0
	for f, rest := nextField(s); len(f) > 0; f, rest = nextField(rest) {
		n++
	}
	return n
}

// indexByte returns the index of the first c in s, or -1.
func indexByte[T byteString](s T, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// hasPrefix reports whether s begins with prefix.
func hasPrefix[T byteString](s T, prefix string) bool {
	return len(s) >= len(prefix) && string(s[:len(prefix)]) == prefix
}

// parseUint parses a plain decimal number: digits only, no sign, no base
// prefix, no underscores, at most math.MaxUint64.
func parseUint[T byteString](s T) (uint64, error) {
	if len(s) == 0 {
		return 0, errNotNumber
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, errOverflow
		}
		n = n*10 + d
	}
	return n, nil
}

// parseDecimal parses a non-negative decimal such as "0.25" or "12345": the
// kernel never prints signs, exponents, "inf" or "nan" in these files, and
// accepting them would let garbage through as numbers.
func parseDecimal[T byteString](s T) (float64, error) {
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && dot < 0 && i > 0 && i < len(s)-1 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
	}
	if len(s) == 0 {
		return 0, errNotNumber
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, errOverflow
	}
	return v, nil
}

// quote renders untrusted file content for an error message, shortened so
// a garbled line cannot flood a log.
func quote[T byteString](s T) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(string(s[:max])) + "..."
	}
	return strconv.Quote(string(s))
}

// fieldErr describes a field that failed to parse as a number.
func fieldErr[T byteString](line int, what string, field T, err error) error {
	return lineErr(line, what+" "+quote(field)+": "+err.Error())
}

package firecracker

// valid reports whether data is one JSON value (RFC 8259, as json.Valid
// decides it: strings may hold any byte but control characters, invalid
// UTF-8 included). It is a direct loop rather than encoding/json's state
// machine, which spends a function call per byte; a fuzz test holds the two
// equal. Nesting deeper than maxDepth is refused (json.Valid allows 10,000;
// Firecracker's lines nest three deep).
func valid(data []byte) bool {
	v := validator{data: data}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(data)
}

const maxDepth = 64

type validator struct {
	data []byte
	i    int
}

func (v *validator) space() {
	for v.i < len(v.data) {
		switch v.data[v.i] {
		case ' ', '\t', '\r', '\n':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.data) {
		return false
	}
	switch c := v.data[v.i]; {
	case c == '{':
		return depth < maxDepth && v.object(depth+1)
	case c == '[':
		return depth < maxDepth && v.array(depth+1)
	case c == '"':
		return v.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	default:
		return v.literal("true") || v.literal("false") || v.literal("null")
	}
}

func (v *validator) object(depth int) bool {
	v.i++ // '{'
	v.space()
	if v.i < len(v.data) && v.data[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.data) || v.data[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.data) || v.data[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) array(depth int) bool {
	v.i++ // '['
	v.space()
	if v.i < len(v.data) && v.data[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) str() bool {
	v.i++ // '"'
	for v.i < len(v.data) {
		c := v.data[v.i]
		switch {
		case c == '"':
			v.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			v.i++
			if v.i >= len(v.data) {
				return false
			}
			switch v.data[v.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i++
			case 'u':
				if v.i+4 >= len(v.data) {
					return false
				}
				for _, h := range v.data[v.i+1 : v.i+5] {
					if !isHex(h) {
						return false
					}
				}
				v.i += 5
			default:
				return false
			}
		default:
			v.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (v *validator) number() bool {
	if v.data[v.i] == '-' {
		v.i++
	}
	switch {
	case v.i < len(v.data) && v.data[v.i] == '0':
		v.i++
	case v.digits() == 0:
		return false
	}
	if v.i < len(v.data) && v.data[v.i] == '.' {
		v.i++
		if v.digits() == 0 {
			return false
		}
	}
	if v.i < len(v.data) && (v.data[v.i] == 'e' || v.data[v.i] == 'E') {
		v.i++
		if v.i < len(v.data) && (v.data[v.i] == '+' || v.data[v.i] == '-') {
			v.i++
		}
		if v.digits() == 0 {
			return false
		}
	}
	return true
}

func (v *validator) digits() int {
	n := 0
	for v.i < len(v.data) && v.data[v.i] >= '0' && v.data[v.i] <= '9' {
		v.i++
		n++
	}
	return n
}

func (v *validator) literal(lit string) bool {
	if len(v.data)-v.i >= len(lit) && string(v.data[v.i:v.i+len(lit)]) == lit {
		v.i += len(lit)
		return true
	}
	return false
}

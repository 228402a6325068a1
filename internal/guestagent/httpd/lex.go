package httpd

// Character classes of RFC 9110 and percent-decoding of RFC 3986.

// tchars marks the bytes allowed in a token (RFC 9110 §5.6.2): methods,
// header names, media types.
var tchars = func() (t [256]bool) {
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		t[b] = true
	}
	for b := 0; b < 256; b++ {
		if isAlnum(byte(b)) {
			t[b] = true
		}
	}
	return t
}()

func isTchar(b byte) bool { return tchars[b] }

// isToken reports whether s is a non-empty token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchars[s[i]] {
			return false
		}
	}
	return true
}

// hasNonTchar reports whether b contains a byte that is not a tchar.
func hasNonTchar(b []byte) bool {
	for _, c := range b {
		if !tchars[c] {
			return true
		}
	}
	return false
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func isAlnum(b byte) bool {
	return isDigit(b) || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// unhex returns the value of a hex digit, or -1.
func unhex(b byte) int {
	switch {
	case isDigit(b):
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// unescape decodes %XX escapes and, when plusSpace is set (query strings),
// '+' as space. It allocates only when s contains something to decode and
// reports false for a '%' not followed by two hex digits.
func unescape(s string, plusSpace bool) (string, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", false
			}
			n++
			i += 2
		case '+':
			if plusSpace {
				n++
			}
		}
	}
	if n == 0 {
		return s, true
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '%':
			out = append(out, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		case b == '+' && plusSpace:
			out = append(out, ' ')
		default:
			out = append(out, b)
		}
	}
	return string(out), true
}

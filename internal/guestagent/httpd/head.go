package httpd

import (
	"strconv"
	"strings"
)

// parseHead parses a complete head: request line, header lines and the
// final empty line.
func parseHead(head string, req *Request) error {
	line, rest, err := nextLine(head)
	if err != nil {
		return err
	}
	if err := parseRequestLine(line, req); err != nil {
		return err
	}
	var f fieldState
	for {
		line, rest, err = nextLine(rest)
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errFold
		}
		if err := parseField(line, req, &f); err != nil {
			return err
		}
	}
	if req.ProtoMinor == 1 && !f.host {
		return errNoHost
	}
	req.Close = f.close || (req.ProtoMinor == 0 && !f.keepAlive)
	return nil
}

// parseRequestLine parses "METHOD SP origin-form SP HTTP/1.x".
func parseRequestLine(line string, req *Request) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || target == "" {
		return errRequestLine
	}
	if !isToken(method) {
		return errMethod
	}
	minor, err := parseVersion(proto)
	if err != nil {
		return err
	}
	if target[0] != '/' {
		return errTarget // asterisk-form, absolute-form, authority-form
	}
	for i := 0; i < len(target); i++ {
		if b := target[i]; b <= ' ' || b >= 0x7f || b == '#' {
			return errTargetChar
		}
	}
	path, query, _ := strings.Cut(target, "?")
	decoded, ok := unescape(path, false)
	if !ok {
		return errEscape
	}
	req.Method, req.Target, req.Path, req.RawQuery, req.ProtoMinor = method, target, decoded, query, minor
	return nil
}

// parseVersion accepts "HTTP/1.0" and "HTTP/1.1"; other well-formed versions
// get 505.
func parseVersion(proto string) (minor int, err error) {
	if len(proto) != len("HTTP/1.1") || !strings.HasPrefix(proto, "HTTP/") || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return 0, errVersion
	}
	if proto[5] != '1' || proto[7] > '1' {
		return 0, errVersionNS
	}
	return int(proto[7] - '0'), nil
}

// fieldState tracks header fields whose repetition or combination matters.
type fieldState struct {
	host, auth, length, close, keepAlive bool
}

// parseField parses "name: value" and records the fields the server uses.
func parseField(line string, req *Request, f *fieldState) error {
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return errFieldLine
	}
	if !isToken(name) {
		return errFieldName // includes whitespace before the colon (RFC 9112 §5.1)
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if b := value[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return errFieldValue
		}
	}
	switch {
	case strings.EqualFold(name, "host"):
		if f.host {
			return errDupHost
		}
		if !validHost(value) {
			return errHost
		}
		f.host, req.Host = true, value
	case strings.EqualFold(name, "accept"):
		req.Accept = joinList(req.Accept, value)
	case strings.EqualFold(name, "authorization"):
		if f.auth {
			return errDupAuth
		}
		f.auth, req.Authorization = true, value
	case strings.EqualFold(name, "connection"):
		parseConnection(value, f)
	case strings.EqualFold(name, "content-length"):
		if f.length {
			return errDupLength
		}
		n, ok := parseLength(value)
		if !ok {
			return errLength
		}
		f.length, req.ContentLength = true, n
	case strings.EqualFold(name, "transfer-encoding"):
		return errTransferCode
	}
	return nil
}

// joinList appends a list-valued field line to earlier ones (RFC 9110 §5.3).
func joinList(prev, value string) string {
	switch {
	case value == "":
		return prev
	case prev == "":
		return value
	}
	return prev + ", " + value
}

// parseConnection records the close and keep-alive options.
func parseConnection(value string, f *fieldState) {
	for value != "" {
		var opt string
		opt, value, _ = strings.Cut(value, ",")
		opt = strings.Trim(opt, " \t")
		switch {
		case strings.EqualFold(opt, "close"):
			f.close = true
		case strings.EqualFold(opt, "keep-alive"):
			f.keepAlive = true
		}
	}
}

// parseLength parses a Content-Length: 1*DIGIT, no sign, no list, fits int64.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// validHost allows the characters of uri-host [":" port] (RFC 3986): reg-name,
// IPv4 and bracketed IPv6 literals. It rejects '/', '@', whitespace and such.
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isAlnum(b) && !strings.ContainsRune("-._~!$&'()*+,;=:[]%", rune(b)) {
			return false
		}
	}
	return true
}

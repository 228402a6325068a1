package httpd

import (
	"bytes"
	"errors"
	"strings"
	"unsafe"
)

// Request is one parsed request head. All strings are substrings of a single
// copy of the head, so parsing a request costs one allocation.
type Request struct {
	Method        string // a token such as "GET"; case-sensitive
	Target        string // the origin-form target as sent: "/metrics?format=prometheus"
	Path          string // Target before '?', percent-decoded, not normalised
	RawQuery      string // Target after '?', still encoded; "" when absent
	Host          string
	Accept        string // several Accept lines are joined with ", "
	Authorization string
	ProtoMinor    int   // 0 for HTTP/1.0, 1 for HTTP/1.1
	Close         bool  // the client wants the connection closed after the response
	ContentLength int64 // announced body size; 0 when absent
}

// Query returns the first value of the query parameter name, decoded as in
// an HTML form (percent escapes, '+' for space). Parameters with malformed
// escapes are skipped.
func (r *Request) Query(name string) (string, bool) {
	for q := r.RawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if key, ok := unescape(k, true); !ok || key != name {
			continue
		}
		if val, ok := unescape(v, true); ok {
			return val, true
		}
	}
	return "", false
}

// ErrIncomplete is returned by ParseRequest when buf holds a valid beginning
// of a request head but not its end; the caller should read more.
var ErrIncomplete = errors.New("incomplete request head")

// ParseError is a request the server rejects; Status is the response code
// (400, 414, 431, 501 or 505) and Reason a lower-case explanation for the
// client. The connection must be closed after answering it.
type ParseError struct {
	Status int
	Reason string
}

func (e *ParseError) Error() string { return e.Reason }

func badRequest(reason string) *ParseError { return &ParseError{Status: 400, Reason: reason} }

var (
	errRequestLine  = badRequest("malformed request line")
	errMethod       = badRequest("method is not a token")
	errTarget       = badRequest("request target must be an absolute path such as /metrics")
	errTargetChar   = badRequest("invalid character in request target")
	errEscape       = badRequest("malformed percent-encoding in request target")
	errVersion      = badRequest("malformed http version")
	errVersionNS    = &ParseError{Status: 505, Reason: "http version not supported (want HTTP/1.0 or HTTP/1.1)"}
	errBareCR       = badRequest("carriage return not followed by line feed")
	errFold         = badRequest("obsolete line folding is not allowed")
	errFieldLine    = badRequest("malformed header line")
	errFieldName    = badRequest("invalid header name")
	errFieldValue   = badRequest("invalid character in header value")
	errNoHost       = badRequest("missing host header")
	errHost         = badRequest("invalid host header")
	errDupHost      = badRequest("duplicate host header")
	errDupAuth      = badRequest("duplicate authorization header")
	errLength       = badRequest("invalid content-length")
	errDupLength    = badRequest("duplicate content-length")
	errTransferCode = &ParseError{Status: 501, Reason: "transfer-encoding is not supported"}
	errLineTooLong  = &ParseError{Status: 414, Reason: "request line too long"}
	errHeadTooLarge = &ParseError{Status: 431, Reason: "request header fields too large"}
)

// ParseRequest parses one request head from the start of buf and returns it
// with the number of bytes it occupied (leading empty lines included); a
// body, if announced, is not consumed. It returns ErrIncomplete when the head
// has not ended yet, and a *ParseError for a malformed head, as soon as the
// bytes seen so far show it (a TLS handshake fails on its first byte).
//
// Lines end with CRLF or, leniently (RFC 9112 §2.2), with a bare LF; a CR
// anywhere else is rejected. On error n is 0. ParseRequest never panics and
// never reads beyond buf.
func ParseRequest(buf []byte) (req Request, n int, err error) {
	return parseRequest(buf, nil)
}

// maxScratch is the largest head copy a connection keeps between requests;
// rarer, larger heads get a copy of their own, so an idle connection never
// holds more than this.
const maxScratch = 1024

// parseRequest is ParseRequest with the copy of the head made into *scratch
// when scratch is not nil and the head fits maxScratch. The Request's strings
// then alias *scratch and stay valid only until the next call with the same
// scratch, which saves the one allocation a request would otherwise cost.
func parseRequest(buf []byte, scratch *[]byte) (req Request, n int, err error) {
	start := skipEmptyLines(buf)
	end := headEnd(buf, start)
	if end < 0 {
		return Request{}, 0, prefixError(buf[start:])
	}
	var head string
	if scratch != nil && end-start <= maxScratch {
		if *scratch == nil {
			*scratch = make([]byte, 0, maxScratch)
		}
		*scratch = append((*scratch)[:0], buf[start:end]...)
		head = unsafe.String(unsafe.SliceData(*scratch), len(*scratch))
	} else {
		head = string(buf[start:end])
	}
	if err := parseHead(head, &req); err != nil {
		return Request{}, 0, err
	}
	return req, end, nil
}

// skipEmptyLines returns the offset after any leading CRLF or LF lines, which
// RFC 9112 §2.2 asks servers to ignore before a request line.
func skipEmptyLines(buf []byte) int {
	i := 0
	for i < len(buf) {
		switch {
		case buf[i] == '\n':
			i++
		case buf[i] == '\r' && i+1 < len(buf) && buf[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// headEnd returns the offset just past the empty line ending the head that
// starts at start, or -1. The search for line ends begins at from (≥ start),
// so a caller feeding data in pieces can resume where it stopped: pass the
// previous length minus 2.
func headEnd(buf []byte, from int) int {
	for from < len(buf) {
		i := bytes.IndexByte(buf[from:], '\n')
		if i < 0 {
			return -1
		}
		i += from
		switch {
		case i+1 < len(buf) && buf[i+1] == '\n':
			return i + 2
		case i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n':
			return i + 3
		}
		from = i + 1
	}
	return -1
}

// prefixError reports whether an unfinished head is already known to be bad:
// a complete request line is checked in full, otherwise the method so far.
func prefixError(p []byte) error {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		line, _, err := nextLine(string(p[:i+1]))
		if err == nil {
			err = parseRequestLine(line, &Request{})
		}
		if err != nil {
			return err
		}
		return ErrIncomplete
	}
	for i, b := range p {
		if b == ' ' && i > 0 {
			break
		}
		if !isTchar(b) && !(b == '\r' && i == len(p)-1) {
			return errMethod
		}
	}
	return ErrIncomplete
}

// nextLine splits off the first line of s (which contains a '\n'),
// stripping CRLF or LF.
func nextLine(s string) (line, rest string, err error) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", errFieldLine
	}
	line, rest = s[:i], s[i+1:]
	line = strings.TrimSuffix(line, "\r")
	if strings.IndexByte(line, '\r') >= 0 {
		return "", "", errBareCR
	}
	return line, rest, nil
}

package httpd

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Response is what a Handler returns. The server adds Date, Content-Length
// and, when it ends the connection, Connection: close.
type Response struct {
	Status      int         // 0 means 200; values outside 100-599 become 500
	ContentType string      // omitted when empty
	Header      [][2]string // extra fields such as WWW-Authenticate; see appendHeader
	Body        []byte      // not sent for HEAD, 1xx, 204 and 304
}

// Error builds the JSON error response {"error":"msg"} every error of the
// server uses, so handlers answer the same way (404, 401, ...).
func Error(status int, msg string) Response {
	b := make([]byte, 0, len(msg)+16)
	b = append(b, `{"error":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}\n"...)
	return Response{Status: status, ContentType: "application/json", Body: b}
}

// httpDate is the IMF-fixdate layout of RFC 9110 §5.6.7.
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// appendHead appends the status line and header section of resp. conn is
// the Connection value to send ("" for none).
func appendHead(b []byte, resp *Response, now time.Time, conn string) []byte {
	status := resp.Status
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	b = append(b, "\r\nDate: "...)
	b = now.UTC().AppendFormat(b, httpDate)
	b = append(b, "\r\n"...)
	if resp.ContentType != "" && validValue(resp.ContentType) {
		b = appendField(b, "Content-Type", resp.ContentType)
	}
	if bodyAllowed(status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(resp.Body)), 10)
		b = append(b, "\r\n"...)
	}
	for _, h := range resp.Header {
		b = appendHeader(b, h[0], h[1])
	}
	if conn != "" {
		b = appendField(b, "Connection", conn)
	}
	return append(b, "\r\n"...)
}

// appendHeader appends one extra header field of a Response. Fields the
// server manages (Content-Length, Content-Type, Connection, Date,
// Transfer-Encoding) are ignored, and so are malformed names or values
// containing CR, LF or other control characters, so a handler can never
// split the response.
func appendHeader(b []byte, name, value string) []byte {
	if !isToken(name) || !validValue(value) {
		return b
	}
	for _, managed := range [...]string{"content-length", "content-type", "connection", "date", "transfer-encoding"} {
		if strings.EqualFold(name, managed) {
			return b
		}
	}
	return appendField(b, name, value)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// validValue reports whether v is a safe field value: no control characters
// other than HTAB.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// bodyAllowed reports whether a response with this status carries content
// (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// statusText returns the reason phrase; it may be empty for rare codes.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 414:
		return "URI Too Long"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// appendJSONString appends s as a JSON string literal; invalid UTF-8
// becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}

// Package httpd is a small, strict HTTP/1.1 server for read-only endpoints
// such as the guest agent's /metrics and /health. It runs on package sock
// instead of net/http to keep the static agent small, and keeps answering
// under abuse: every read and write has a deadline, request heads are
// bounded, and idle connections are the first to go when the server is full.
//
// Protocol decisions, for clients and reviewers:
//
//   - Only origin-form targets ("/path?query") with HTTP/1.0 or HTTP/1.1;
//     other forms get 400, other versions 505. HTTP/1.1 requires Host.
//   - Lines may end in CRLF or a bare LF (RFC 9112 §2.2), consistently for
//     the request line, fields and the empty line; a CR anywhere else, obs-fold
//     continuation lines and whitespace before a field's colon get 400.
//   - Request bodies are never read. Transfer-Encoding gets 501; a repeated
//     Content-Length 400. A request announcing a body is answered (GET/HEAD
//     normally, others 405) and then the connection is closed, so body bytes
//     can never be taken for a request (no smuggling through this server).
//   - Methods other than GET and HEAD get 405 with Allow: GET, HEAD. HEAD
//     answers carry the Content-Length of the GET body.
//   - Keep-alive is the default for HTTP/1.1 and opt-in for HTTP/1.0;
//     pipelined requests are answered in order. A malformed request is
//     answered with a JSON error and the connection is closed; pending input
//     is drained briefly first so the client sees the answer, not a reset.
//   - Memory per connection is bounded: an idle connection holds no buffer;
//     a request in progress holds one pooled buffer of MaxHeaderBytes.
package httpd

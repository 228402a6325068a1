// Package httpconn is one kept-alive HTTP/1.1 connection to one server,
// reached through any dialer: a guest agent over TCP or Firecracker's vsock,
// Firecracker's API socket. A poller that asks one server one question at a
// time needs none of net/http's Transport (two goroutines, channel handoffs
// and a buffer pair per connection): the request goes out in one write and
// the answer is parsed by net/http's own ReadResponse, so Content-Length,
// chunked bodies and Connection: close are the standard library's.
package httpconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxBody caps an answer's body when Conn.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// DefaultMaxHeader caps an answer's status line and headers when
// Conn.MaxHeader is zero.
const DefaultMaxHeader = 16 << 10

// ErrTooLarge is returned for an answer whose body exceeds MaxBody.
var ErrTooLarge = errors.New("answer body too large")

// ErrHeaderTooLarge is returned for an answer whose status line and
// headers exceed MaxHeader: a server that never ends its head (a hostile
// guest, a fake API) costs at most that much memory.
var ErrHeaderTooLarge = errors.New("answer's status line and headers too large")

// Conn is one kept-alive connection. It is not safe for concurrent use:
// one request at a time, as a poller makes them.
type Conn struct {
	// Dial opens a new connection; the context bounds it.
	Dial func(ctx context.Context) (net.Conn, error)
	// Host is the Host header; "localhost" when empty.
	Host string
	// Header lines sent with every request, such as
	// "Authorization: Bearer x" (no CRLF).
	Header []string
	// MaxBody caps an answer's body; 0 means DefaultMaxBody.
	MaxBody int64
	// MaxHeader caps an answer's status line and headers; 0 means
	// DefaultMaxHeader.
	MaxHeader int64

	conn net.Conn
	lim  budget // what the buffered reader may still read from conn
	br   *bufio.Reader
	req  []byte // reused request buffer
}

// Response is an answer: its status and body.
type Response struct {
	Status int
	Body   []byte
}

// Do sends one request and reads its answer, all within ctx's deadline.
// A kept connection that the server closed meanwhile (its idle timeout, a
// restart) fails on first use; the request is then retried once on a new
// connection, as net/http does. The connection stays open for the next
// request only when the answer was read whole and the server keeps it.
func (c *Conn) Do(ctx context.Context, method, path string, body []byte) (Response, error) {
	reused := c.conn != nil
	r, err := c.roundTrip(ctx, method, path, body)
	if err != nil && reused && ctx.Err() == nil && stale(err) {
		r, err = c.roundTrip(ctx, method, path, body)
	}
	return r, err
}

// Connected reports whether a connection is open (for tests and metrics).
func (c *Conn) Connected() bool { return c.conn != nil }

// Close drops the connection; the next request dials afresh.
func (c *Conn) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	c.release()
}

func (c *Conn) roundTrip(ctx context.Context, method, path string, body []byte) (resp Response, err error) {
	if c.conn == nil {
		conn, err := c.Dial(ctx)
		if err != nil {
			return Response{}, err
		}
		c.conn = conn
	}
	if c.br == nil {
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset(&c.lim)
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	head := c.MaxHeader
	if head <= 0 {
		head = DefaultMaxHeader
	}
	// The head may take what was left over plus MaxHeader; the body, once
	// the head is read, twice MaxBody (room for chunked framing).
	c.lim.r, c.lim.n, c.lim.err = c.conn, head, ErrHeaderTooLarge
	keep := false
	defer func() {
		if !keep {
			c.Close()
		}
	}()
	conn := c.conn
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Cancellation cuts the exchange short.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(c.request(method, path, body)); err != nil {
		return Response{}, err
	}
	hr, err := http.ReadResponse(c.br, nil)
	if err != nil {
		// Cut at the limit, the parser may first see a partial line.
		if errors.Is(err, ErrHeaderTooLarge) || c.lim.n <= 0 {
			err = fmt.Errorf("%w: over %d bytes", ErrHeaderTooLarge, head)
		}
		return Response{}, err
	}
	defer hr.Body.Close()
	c.lim.n, c.lim.err = 2*limit+head, ErrTooLarge
	data, err := io.ReadAll(io.LimitReader(hr.Body, limit+1))
	if err != nil {
		return Response{}, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(data)) > limit {
		return Response{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	keep = !hr.Close && stop()
	if keep && c.br.Buffered() == 0 {
		c.release()
	}
	return Response{Status: hr.StatusCode, Body: data}, nil
}

// budget reads from r until n bytes are read, then fails with err.
type budget struct {
	r   io.Reader
	n   int64
	err error
}

func (b *budget) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// readers are the buffered readers of connections between exchanges: an
// idle connection holds none, so a host agent polling a thousand VMs keeps
// a few rather than a thousand.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// release returns the reader to the pool.
func (c *Conn) release() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// request writes the request into the reused buffer.
func (c *Conn) request(method, path string, body []byte) []byte {
	host := c.Host
	if host == "" {
		host = "localhost"
	}
	b := append(c.req[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nAccept: application/json\r\n"...)
	for _, h := range c.Header {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.req = b
	return b
}

// stale reports whether err is what a kept connection the peer had
// already closed gives on first use.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

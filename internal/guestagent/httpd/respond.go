package httpd

import (
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// respond answers req and reports whether the connection stays open for
// another request. It closes after HTTP/1.0 without keep-alive, Connection:
// close, an announced body (never read, so never mistaken for a request), a
// handler panic, a failed write, or during shutdown.
func (c *conn) respond(req *Request) bool {
	keep := !req.Close && req.ContentLength == 0
	var resp Response
	if req.Method == "GET" || req.Method == "HEAD" {
		var ok bool
		resp, ok = c.srv.call(req)
		keep = keep && ok
	} else {
		resp = Error(405, "method "+req.Method+" is not allowed; use GET or HEAD")
		resp.Header = allowGetHead
	}
	keep = keep && !c.srv.shutting.Load()
	conn := ""
	switch {
	case !keep:
		conn = "close"
	case req.ProtoMinor == 0:
		conn = "keep-alive"
	}
	if err := c.write(&resp, req.Method == "HEAD", conn); err != nil {
		return false
	}
	c.served.Store(true)
	if !keep {
		c.linger()
	}
	return keep
}

// reject answers a request that could not be read: a *ParseError with its
// status, a header timeout with 408. Other errors (EOF, reset) end the
// connection silently.
func (c *conn) reject(err error) {
	var resp Response
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		resp = Error(pe.Status, pe.Reason)
	case errors.Is(err, os.ErrDeadlineExceeded) && c.n > 0:
		resp = Error(408, "request head not received in time")
	default:
		return
	}
	if c.write(&resp, false, "close") == nil {
		c.linger()
	}
}

// write sends resp; the head and a body of up to inlineBody bytes go out in
// a single write from a pooled buffer.
func (c *conn) write(resp *Response, head bool, conn string) error {
	switch {
	case resp.Status == 0:
		resp.Status = 200
	case resp.Status < 200 || resp.Status > 599:
		c.srv.logf("handler returned invalid status "+strconv.Itoa(resp.Status), nil)
		*resp = Error(500, "internal server error")
	}
	wb := writeBufs.Get().(*[]byte)
	b := appendHead((*wb)[:0], resp, time.Now(), conn)
	body := resp.Body
	if head || !bodyAllowed(resp.Status) {
		body = nil
	}
	if len(body) <= inlineBody {
		b, body = append(b, body...), nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
	_, err := c.nc.Write(b)
	if err == nil && len(body) > 0 {
		_, err = c.nc.Write(body)
	}
	if cap(b) <= 2*inlineBody {
		*wb = b[:0]
		writeBufs.Put(wb)
	}
	return err
}

// linger half-closes the connection and drains what the client still sends
// (a body, pipelined requests, the rest of an oversized head) until it
// closes, for at most lingerTimeout and lingerBytes; closing with unread
// input would make the kernel send a reset that can destroy the response.
// The connection counts as idle meanwhile, so it can be evicted, and
// Shutdown does not wait for it.
func (c *conn) linger() {
	if sock.CloseWrite(c.nc) != nil {
		return
	}
	c.idleSince.Store(time.Now().UnixNano())
	if !c.state.CompareAndSwap(stateActive, stateIdle) || c.srv.shutting.Load() {
		return // evicted, or Shutdown is closing idle connections
	}
	if c.buf == nil {
		c.buf = c.srv.getReadBuf(false)
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	for total := 0; total < lingerBytes; {
		m, err := c.nc.Read(*c.buf)
		total += m
		if err != nil {
			return
		}
	}
}

// finish closes the connection and releases its resources.
func (c *conn) finish() {
	if p := recover(); p != nil {
		c.srv.logf("connection goroutine panicked", panicError(p))
	}
	c.state.Store(stateClosed)
	if c.parked.Load() {
		c.srv.park(c.nc)
	} else {
		c.nc.Close()
	}
	if c.buf != nil {
		c.srv.putReadBuf(c.buf)
		c.buf = nil
	}
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.noteCrowdingLocked()
	c.srv.mu.Unlock()
	c.srv.wg.Done()
}

// call runs the handler, turning a panic into a 500 (and ok false, so the
// connection closes).
func (s *Server) call(req *Request) (resp Response, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			s.logf("handler panicked", panicError(p))
			resp, ok = Error(500, "internal server error"), false
		}
	}()
	return s.Handler(req), true
}

func panicError(p any) error {
	switch v := p.(type) {
	case error:
		return v
	case string:
		return errors.New(v)
	}
	return errors.New("panic with a value that is not an error")
}

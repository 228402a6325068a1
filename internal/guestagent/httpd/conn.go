package httpd

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

const (
	// inlineBody is the largest body copied behind the head into one write.
	inlineBody = 64 << 10
	// lingerTimeout and lingerBytes bound how long and how much unread
	// input is drained before closing, so the kernel does not answer it
	// with a reset that would destroy the response in flight.
	lingerTimeout = time.Second
	lingerBytes   = 256 << 10
)

// allowGetHead is the Allow field of every 405.
var allowGetHead = [][2]string{{"Allow", "GET, HEAD"}}

// writeBufs pools response buffers; the head is appended into one.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// serve runs the request loop of one connection.
func (c *conn) serve() {
	defer c.finish()
	for c.awaitRequest() {
		var err error
		if c.req, err = c.readRequest(); err != nil {
			if c.state.Load() != stateClosed { // evicted: say nothing
				c.reject(err)
			}
			return
		}
		if !c.state.CompareAndSwap(stateReading, stateActive) {
			return // evicted while the head arrived
		}
		if !c.respond(&c.req) {
			return
		}
	}
}

// awaitRequest waits, without holding a read buffer, until the next request
// starts, then marks the connection as reading a head. It reports false
// when the connection should end: idle timeout, peer gone, eviction or
// shutdown.
func (c *conn) awaitRequest() bool {
	if c.n > 0 { // a pipelined request is already buffered
		c.idleSince.Store(time.Now().UnixNano())
		return c.state.CompareAndSwap(stateActive, stateReading)
	}
	if c.buf != nil {
		c.srv.putReadBuf(c.buf)
		c.buf = nil
	}
	c.idleSince.Store(time.Now().UnixNano())
	c.state.Store(stateIdle)
	if c.srv.shutting.Load() { // checked after the store: see Server.stop
		return false
	}
	c.nc.SetReadDeadline(time.Now().Add(c.srv.idleTimeout()))
	if err := sock.WaitReadable(c.nc); err != nil && !errors.Is(err, syscall.ENOTSUP) {
		return false
	}
	c.idleSince.Store(time.Now().UnixNano())
	if !c.state.CompareAndSwap(stateIdle, stateReading) {
		return false
	}
	c.buf = c.srv.getReadBuf(false)
	return true
}

// readRequest reads until a complete request head is buffered and parses it,
// leaving any bytes after it (a pipelined request) in the buffer. Parsing is
// attempted only when it can decide something new (first bytes, request line
// progress, end of head), so input trickled in byte by byte costs about
// linear time, not a full parse per byte.
func (c *conn) readRequest() (Request, error) {
	buf := *c.buf
	if c.n > 0 {
		c.headerDeadline()
	}
	old, lineSeen := 0, false
	for {
		if c.n > old {
			old = c.dropEmptyLines(old)
			// Until the request line is complete, any byte that cannot be
			// part of a method may reveal an error early; checking costs an
			// IndexByte and the (short) method.
			early := !lineSeen && hasNonTchar(buf[max(old-1, 0):c.n]) // -1: a CR may end a chunk
			lineSeen = lineSeen || bytes.IndexByte(buf[old:c.n], '\n') >= 0
			if c.n > 0 && (old == 0 || early || headEnd(buf[:c.n], max(old-2, 0)) >= 0) {
				req, n, err := parseRequest(buf[:c.n], &c.head)
				if !errors.Is(err, ErrIncomplete) {
					c.n = copy(buf, buf[n:c.n])
					return req, err
				}
			}
			old = c.n
		}
		if c.n == len(buf) {
			if len(buf) < c.srv.maxHeaderBytes() {
				buf = c.growBuf()
				continue
			}
			if !lineSeen {
				return Request{}, errLineTooLong
			}
			return Request{}, errHeadTooLarge
		}
		m, err := c.nc.Read(buf[c.n:])
		if m > 0 && c.n == 0 {
			c.headerDeadline()
		}
		c.n += m
		if m == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return Request{}, err
		}
	}
}

// headerDeadline starts the ReadHeaderTimeout clock at the first byte; a
// crowded server allows at most partialTimeout.
func (c *conn) headerDeadline() {
	d := c.srv.readHeaderTimeout()
	if c.srv.crowded() {
		d = min(d, partialTimeout)
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
}

// growBuf moves the head read so far into a full-size buffer.
func (c *conn) growBuf() []byte {
	big := c.srv.getReadBuf(true)
	copy(*big, (*c.buf)[:c.n])
	c.srv.putReadBuf(c.buf)
	c.buf = big
	return *big
}

// dropEmptyLines discards empty lines before a request line (RFC 9112 §2.2)
// so they neither fill the buffer nor look like the end of a head. It
// returns old adjusted for the bytes removed.
func (c *conn) dropEmptyLines(old int) int {
	buf := (*c.buf)[:c.n]
	k := skipEmptyLines(buf)
	if k == 0 {
		return old
	}
	c.n = copy(buf, buf[k:])
	return max(old-k, 0)
}

package httpd

import (
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// Connection states. Only the owning goroutine moves a connection out of
// stateIdle into stateActive, and only by compare-and-swap, so a connection
// chosen for eviction (stateIdle → stateClosed) can never be mid-request.
const (
	stateIdle   int32 = iota // waiting for a request; nothing of it received
	stateActive              // reading a request head, handling or writing
	stateClosed              // evicted or shut down
)

// conn is one client connection, served by one goroutine.
type conn struct {
	srv       *Server
	nc        sock.Conn
	state     atomic.Int32
	idleSince atomic.Int64 // UnixNano when it last became idle
	buf       *[]byte      // read buffer, held only while a request is read
	n         int          // bytes of buf in use
	req       Request      // the request being answered; reused, not reallocated
	head      []byte       // copy of the current head that req's strings alias
}

// admit starts serving nc, first making room under MaxConns by evicting the
// longest-idle connection; with no idle one, nc is refused with 503.
func (s *Server) admit(nc sock.Conn) {
	c := &conn{srv: s, nc: nc}
	c.idleSince.Store(time.Now().UnixNano())
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.maxConns() && !s.evictLocked() {
		s.mu.Unlock()
		s.refuse(nc)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

// evictLocked closes the connection idle the longest and forgets it (its
// goroutine exits on its own). It reports false when none is idle.
func (s *Server) evictLocked() bool {
	for range 4 { // a candidate may turn active under us; pick again
		var oldest *conn
		for c := range s.conns {
			if c.state.Load() == stateIdle && (oldest == nil || c.idleSince.Load() < oldest.idleSince.Load()) {
				oldest = c
			}
		}
		if oldest == nil {
			return false
		}
		if oldest.state.CompareAndSwap(stateIdle, stateClosed) {
			oldest.nc.Close()
			delete(s.conns, oldest)
			return true
		}
	}
	return false
}

// refuse answers 503 on a connection that cannot be served. The socket is
// fresh, so the small write fits its buffer and does not block.
func (s *Server) refuse(nc sock.Conn) {
	resp := Error(503, "too many connections; try again later")
	resp.Header = [][2]string{{"Retry-After", "1"}}
	b := appendHead(make([]byte, 0, 256), &resp, time.Now(), "close")
	nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	nc.Write(append(b, resp.Body...))
	nc.Close()
}

// getReadBuf returns a pooled read buffer of MaxHeaderBytes.
func (s *Server) getReadBuf() *[]byte {
	size := s.maxHeaderBytes()
	if p, _ := s.readBufs.Get().(*[]byte); p != nil && len(*p) == size {
		return p
	}
	b := make([]byte, size)
	return &b
}

package httpd

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// Connection states. Only the owning goroutine moves a connection from
// stateIdle to stateReading and from stateReading to stateActive, and only
// by compare-and-swap, so a connection chosen for eviction (stateIdle or
// stateReading → stateClosed) can never be handling a request.
const (
	stateIdle    int32 = iota // waiting for a request; nothing of it received
	stateReading              // part of a request head received, not all
	stateActive               // handling a request or writing its answer
	stateClosed               // evicted or shut down
)

// smallReadBuf is the read buffer a request head starts in: real clients'
// heads are a few hundred bytes, so a connection that sends one byte and
// stalls holds 1 KiB, not MaxHeaderBytes. A longer head moves to a full
// buffer.
const smallReadBuf = 1 << 10

// partialTimeout bounds the completion of a request head once more than
// half of MaxConns connections are open: a real client sends its head in
// one packet, so only stalling clients notice. An evicted connection that
// never completed a request is parked that long too (see park).
const partialTimeout = time.Second

// maxParked bounds the connections parked at once; beyond it an evicted
// connection is closed at once.
const maxParked = 1024

// conn is one client connection, served by one goroutine.
type conn struct {
	srv       *Server
	nc        sock.Conn
	state     atomic.Int32
	idleSince atomic.Int64 // UnixNano when it last became idle, or began reading a head
	served    atomic.Bool  // a request was answered on it
	parked    atomic.Bool  // evicted before any request: park, do not close
	buf       *[]byte      // read buffer, held only while a request is read
	n         int          // bytes of buf in use
	req       Request      // the request being answered; reused, not reallocated
	head      []byte       // copy of the current head that req's strings alias
}

// admit starts serving nc, first making room under MaxConns by evicting a
// connection (see evictLocked); with none to evict, nc is refused with 503.
func (s *Server) admit(nc sock.Conn) {
	c := &conn{srv: s, nc: nc}
	c.idleSince.Store(time.Now().UnixNano())
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	evicted := false
	if len(s.conns) >= s.maxConns() {
		if evicted = s.evictLocked(); !evicted {
			s.mu.Unlock()
			s.refuse(nc)
			return
		}
	}
	s.conns[c] = struct{}{}
	s.noteCrowdingLocked()
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
	if evicted {
		// Let the evicted connection's goroutine end before accepting
		// more: a flood of reconnecting clients would otherwise outpace
		// those exits on a one-CPU agent and pile up goroutines, whose
		// descriptors the runtime never frees.
		runtime.Gosched()
	}
}

// evictLocked closes one connection and forgets it (its goroutine exits on
// its own): the one whose request head has been incomplete the longest —
// a client that sends a byte and stalls must not hold a slot — else the
// one idle the longest. It reports false when every connection is busy
// with a request.
func (s *Server) evictLocked() bool {
	for range 4 { // a candidate may change state under us; pick again
		var oldest *conn
		var oldestState int32
		for c := range s.conns {
			st := c.state.Load()
			if st != stateIdle && st != stateReading {
				continue
			}
			better := oldest == nil || st > oldestState ||
				(st == oldestState && c.idleSince.Load() < oldest.idleSince.Load())
			if better {
				oldest, oldestState = c, st
			}
		}
		if oldest == nil {
			return false
		}
		if oldest.state.CompareAndSwap(oldestState, stateClosed) {
			s.evict(oldest)
			delete(s.conns, oldest)
			return true
		}
	}
	return false
}

// evict ends c's hold on its slot. A kept-alive connection that has been
// answered before is closed: its client reconnects when it needs to. One
// that never completed a request is woken (a read deadline in the past)
// and parked by its goroutine instead: a client that connects and stalls,
// and reconnects at once when closed, would otherwise churn through
// evictions as fast as the agent can accept, and every real client would
// wait in the kernel's accept queue behind that churn.
func (s *Server) evict(c *conn) {
	if c.served.Load() {
		c.nc.Close()
		return
	}
	c.parked.Store(true)
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// park holds an evicted connection open, with no goroutine or buffer, for
// about partialTimeout before closing it; past maxParked it is closed at
// once. One janitor goroutine closes them in order (they all wait equally
// long, so the queue is sorted).
func (s *Server) park(nc sock.Conn) {
	s.parkMu.Lock()
	defer s.parkMu.Unlock()
	if len(s.parked) >= maxParked || s.shutting.Load() {
		nc.Close()
		return
	}
	s.parked = append(s.parked, parkedConn{nc, time.Now().Add(partialTimeout)})
	if !s.janitor {
		s.janitor = true
		go s.closeParked()
	}
}

type parkedConn struct {
	nc    sock.Conn
	until time.Time
}

// closeParked closes parked connections as they expire, and every one when
// the server shuts down; it ends when none is left.
func (s *Server) closeParked() {
	for {
		s.parkMu.Lock()
		now := time.Now()
		i := 0
		for ; i < len(s.parked) && (now.After(s.parked[i].until) || s.shutting.Load()); i++ {
			s.parked[i].nc.Close()
			s.parked[i] = parkedConn{}
		}
		s.parked = s.parked[i:]
		if len(s.parked) == 0 {
			s.parked, s.janitor = nil, false
			s.parkMu.Unlock()
			return
		}
		wait := time.Until(s.parked[0].until)
		s.parkMu.Unlock()
		if !s.pause(max(wait, 10*time.Millisecond)) {
			continue // shutting down: the next round closes the rest
		}
	}
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

// getReadBuf returns a pooled read buffer: a small one, or with full one
// of MaxHeaderBytes.
func (s *Server) getReadBuf(full bool) *[]byte {
	size, pool := min(smallReadBuf, s.maxHeaderBytes()), &s.smallBufs
	if full {
		size, pool = s.maxHeaderBytes(), &s.readBufs
	}
	if p, _ := pool.Get().(*[]byte); p != nil && len(*p) == size {
		return p
	}
	b := make([]byte, size)
	return &b
}

// putReadBuf returns a buffer of getReadBuf to its pool.
func (s *Server) putReadBuf(p *[]byte) {
	if len(*p) == s.maxHeaderBytes() {
		s.readBufs.Put(p)
	} else {
		s.smallBufs.Put(p)
	}
}

// noteCrowdingLocked tells OnCrowded of a change: above half the slots,
// crowded; at a quarter or below, no longer (the gap keeps it from
// flapping).
func (s *Server) noteCrowdingLocked() {
	if s.OnCrowded == nil {
		return
	}
	n, max := len(s.conns), s.maxConns()
	switch {
	case !s.isCrowded && 2*n > max:
		s.isCrowded = true
		s.OnCrowded(true)
	case s.isCrowded && 4*n <= max:
		s.isCrowded = false
		s.OnCrowded(false)
	}
}

// crowded reports whether more than half the connection slots are taken.
func (s *Server) crowded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 2*len(s.conns) > s.maxConns()
}

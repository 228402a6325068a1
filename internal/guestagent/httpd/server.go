package httpd

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// Handler answers one GET or HEAD request. For HEAD the server sends the
// head of the returned Response without its body, so handlers need not
// distinguish the two. The *Request and the memory behind its strings are
// reused for the connection's next request, so that a request costs no
// allocation: clone (strings.Clone) what must outlive the call. The
// Response's Body is not modified and may be shared between responses.
type Handler func(*Request) Response

// Server serves HTTP/1.0 and HTTP/1.1 on one or more listeners. Only GET and
// HEAD reach the Handler; any other method gets 405 with Allow: GET, HEAD.
// Set the fields before the first Serve and do not copy a Server after that.
type Server struct {
	Handler Handler

	// ReadHeaderTimeout is how long a request head may take to arrive,
	// counted from its first byte, so slow-drip clients cannot hold a
	// connection. Zero or negative means 5s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a connection may wait for its next (or
	// first) request. Zero or negative means 30s.
	IdleTimeout time.Duration
	// WriteTimeout bounds the writing of one response. Zero or negative
	// means 10s.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line and fields), and
	// so the read buffer of a connection; larger heads get 431 (414 when
	// the request line alone is too long) and the connection is closed.
	// Zero or negative means 8 KiB; at least 256 is used.
	MaxHeaderBytes int
	// MaxConns bounds open connections. When it is reached, a connection
	// is closed to make room: the one whose request head has been
	// incomplete the longest, else the one idle the longest (waiting,
	// nothing of a request received), so neither idle nor stalling clients
	// can lock out a health check; if every connection is handling a
	// request, the new one gets 503 and is closed. Once more than half the
	// slots are taken, a request head must complete within a second.
	// Zero or negative means 512.
	MaxConns int
	// OnCrowded, when set, hears when more than half of MaxConns slots
	// become taken (true) and when no more than a quarter are again
	// (false), so the program can tighten its memory while a flood lasts.
	// It is called with the server's lock held and must return at once.
	OnCrowded func(crowded bool)
	// ErrorLog, when set, receives failures the server cannot report to a
	// client: accept errors and handler panics. Client misbehaviour
	// (timeouts, malformed requests) is answered, not logged.
	ErrorLog func(msg string, err error)

	mu        sync.Mutex
	listeners map[sock.Listener]struct{}
	conns     map[*conn]struct{}
	done      chan struct{} // closed when shutting down
	shutting  atomic.Bool
	isCrowded bool // last state reported to OnCrowded, under mu
	parkMu    sync.Mutex
	parked    []parkedConn   // evicted connections held open, oldest first (see park)
	janitor   bool           // closeParked runs
	wg        sync.WaitGroup // one per connection goroutine
	readBufs  sync.Pool      // *[]byte of MaxHeaderBytes
	smallBufs sync.Pool      // *[]byte of smallReadBuf
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("httpd: server closed")

func (s *Server) readHeaderTimeout() time.Duration {
	return orDefault(s.ReadHeaderTimeout, 5*time.Second)
}
func (s *Server) idleTimeout() time.Duration  { return orDefault(s.IdleTimeout, 30*time.Second) }
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, 10*time.Second) }

func (s *Server) maxHeaderBytes() int { return max(orDefault(s.MaxHeaderBytes, 8<<10), 256) }
func (s *Server) maxConns() int       { return orDefault(s.MaxConns, 512) }

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Serve accepts connections on l and serves each in its own goroutine until
// l fails or the server shuts down; it always closes l. It returns
// ErrServerClosed after Shutdown or Close, otherwise the error that ended
// accepting (matching sock.ErrClosed when l was closed by someone else).
// Transient accept errors such as EMFILE are logged and retried with backoff.
func (s *Server) Serve(l sock.Listener) error {
	defer l.Close()
	if s.Handler == nil {
		return errors.New("httpd: server has no handler")
	}
	if !s.track(l) {
		return ErrServerClosed
	}
	defer s.untrack(l)
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if s.shutting.Load() {
			if c != nil {
				c.Close()
			}
			return ErrServerClosed
		}
		if errors.Is(err, sock.ErrClosed) {
			return err
		}
		if err != nil {
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("accept failed; retrying in "+backoff.String(), err)
			if !s.pause(backoff) {
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.admit(c)
	}
}

// track registers a listener; it reports false once shutting down.
func (s *Server) track(l sock.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[sock.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.done = make(chan struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l sock.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
}

// pause waits d; it reports false if the server shuts down meanwhile.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// Shutdown stops the listeners, closes idle connections and waits until the
// active ones have answered their current request and closed, or until ctx
// is done (then it returns ctx.Err() and leaves them running; Close ends
// them). Serve calls return ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop(false)
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the listeners and closes every connection at once, active or
// not. It does not wait for the connection goroutines to end.
func (s *Server) Close() error {
	s.stop(true)
	return nil
}

// stop marks the server as shutting down, closes its listeners and its idle
// connections (all when force is set).
func (s *Server) stop(force bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shutting.Swap(true) && s.done != nil {
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		if force || c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
}

// logf reports an internal failure to ErrorLog, if set.
func (s *Server) logf(msg string, err error) {
	if s.ErrorLog != nil {
		s.ErrorLog(msg, err)
	}
}

package hub

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// Batching. coder/websocket flushes every message to the socket, one
// write(2) each; a client of the all-VM stream gets a message per VM per
// poll interval, so with 1,000 VMs and 1,000 such clients the manager would
// make a million syscalls a second. Instead the hub hands the library a
// connection that, while a batch is open, collects what the library writes,
// and writes the messages a client has queued in one syscall. Each message
// is still its own WebSocket frame: only the syscalls are shared.

const (
	// maxBatch bounds the messages written in one batch, so a client with
	// a deep queue does not keep its writer from pings and kicks for long.
	maxBatch = 256
	// maxBatchBytes is written at once even within a batch.
	maxBatchBytes = 32 << 10
)

// batchConn is a hijacked connection whose writes are held back while a
// batch is open. Writes outside a batch (the library's pings and close
// frames from other goroutines) go straight through.
type batchConn struct {
	net.Conn
	timeout time.Duration // bounds each flush

	mu       sync.Mutex
	batching bool
	buf      []byte
	err      error // the first failed flush; the connection is dead
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if !b.batching {
		return b.Conn.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBatchBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// begin opens a batch.
func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// end closes the batch and writes what it holds, within the timeout.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 || b.err != nil {
		return b.err
	}
	b.Conn.SetWriteDeadline(time.Now().Add(b.timeout))
	_, err := b.Conn.Write(b.buf)
	b.Conn.SetWriteDeadline(time.Time{})
	b.buf = b.buf[:0]
	if err != nil {
		b.err = err
	}
	return err
}

// batchingResponse makes the connection that websocket.Accept hijacks a
// batchConn, kept in conn for the hub's writer.
type batchingResponse struct {
	http.ResponseWriter
	timeout time.Duration
	conn    *batchConn
}

// Hijack implements http.Hijacker.
func (w *batchingResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Anything net/http still holds (the 101 answer) goes out first.
	if err := brw.Writer.Flush(); err != nil {
		c.Close()
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: c, timeout: w.timeout}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.conn, 4096)), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *batchingResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Package sock provides TCP and AF_VSOCK stream sockets on top of the syscall
// package, without importing net. It exists to keep the static guest agent
// small: sockets are plain non-blocking descriptors wrapped in *os.File, so the
// Go runtime poller still gives them blocking-style reads, writes and deadlines.
package sock

import (
	"io"
	"os"
	"time"
)

// Conn is a connected stream socket. *os.File satisfies it: reads and writes
// block the calling goroutine (not a thread) and honour the deadlines, after
// which they fail with an error matching os.ErrDeadlineExceeded.
type Conn interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Listener is a listening stream socket.
type Listener interface {
	// Accept waits for the next connection. After Close it returns an
	// error matching ErrClosed; other errors (such as EMFILE) are
	// transient and the caller should retry after a pause.
	Accept() (Conn, error)
	// Close stops listening and unblocks pending Accept calls.
	Close() error
	// Addr is the bound address in the form Listen accepts, with the real
	// port when port 0 was asked for: "127.0.0.1:41234", "[::]:8080",
	// "vsock://:1024", "vsock://3:1024".
	Addr() string
}

// ErrClosed is matched (errors.Is) by the error of Accept on a closed
// Listener and of I/O on a closed Conn. It is os.ErrClosed, so one check
// covers both layers.
var ErrClosed = os.ErrClosed

package sock

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// rawConn returns the syscall.RawConn of a socket Conn, or ENOTSUP for Conn
// implementations that are not descriptors.
func rawConn(c Conn, op string) (syscall.RawConn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, os.NewSyscallError(op, syscall.ENOTSUP)
	}
	return sc.SyscallConn()
}

// CloseWrite shuts down the sending side of c (shutdown(SHUT_WR)) so the peer
// reads EOF while c can still read what the peer sends. It works for
// connections returned by this package (and any *os.File socket); for other
// Conn implementations it returns an error matching syscall.ENOTSUP.
func CloseWrite(c Conn) error {
	rc, err := rawConn(c, "shutdown")
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.Shutdown(int(fd), syscall.SHUT_WR)
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("shutdown", serr)
	}
	return nil
}

// WaitReadable blocks until c has data to read, or the peer has closed or
// reset the connection, without consuming anything. It honours c's read
// deadline (the error then matches os.ErrDeadlineExceeded) and returns an
// error matching ErrClosed when c is closed meanwhile. A server uses it to
// wait for the next request without holding a read buffer per idle
// connection. Conn implementations that are not descriptors get ENOTSUP.
func WaitReadable(c Conn) error {
	rc, err := rawConn(c, "recvfrom")
	if err != nil {
		return err
	}
	err = rc.Read(peekReady)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	// For a pollable socket the poller's only other failure is
	// internal/poll.ErrFileClosing, which os does not export.
	return &os.PathError{Op: "wait", Path: "socket", Err: ErrClosed}
}

// peekReady reports whether fd has something for a read to return. It is a
// package-level function so RawConn.Read does not allocate a closure.
func peekReady(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true // data, EOF or an error the next Read will report
	}
}

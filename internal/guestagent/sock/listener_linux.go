package sock

import (
	"os"
	"sync/atomic"
	"syscall"
)

// sockFlags makes every descriptor non-blocking (so the runtime poller can
// manage it) and close-on-exec.
const sockFlags = syscall.SOCK_NONBLOCK | syscall.SOCK_CLOEXEC

// listenBacklog is the accept queue length; the kernel caps it at
// net.core.somaxconn.
const listenBacklog = 1024

// listener is a listening socket registered with the runtime poller.
type listener struct {
	f      *os.File
	rc     syscall.RawConn
	addr   string
	tcp    bool
	closed atomic.Bool
}

// newListener wraps a bound, listening, non-blocking descriptor. It takes
// ownership of fd, closing it on failure.
func newListener(fd int, addr string, tcp bool) (*listener, error) {
	f := os.NewFile(uintptr(fd), addr)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &listener{f: f, rc: rc, addr: addr, tcp: tcp}, nil
}

// Accept waits for a connection and returns it as a non-blocking *os.File.
// accept4 is called directly because syscall.Accept4 fails, after accepting,
// on address families it cannot convert (AF_VSOCK).
func (l *listener) Accept() (Conn, error) {
	var nfd int
	var errno syscall.Errno
	err := l.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, fd, 0, 0, sockFlags, 0, 0)
			switch e {
			case 0:
				nfd, errno = int(r), 0
				return true
			case syscall.EINTR, syscall.ECONNABORTED:
				continue // interrupted, or the peer gave up while queued
			case syscall.EAGAIN:
				return false // wait for the poller
			default:
				errno = e
				return true
			}
		}
	})
	if l.closed.Load() {
		if err == nil && errno == 0 {
			syscall.Close(nfd)
		}
		return nil, &os.PathError{Op: "accept", Path: l.addr, Err: ErrClosed}
	}
	if err != nil {
		return nil, &os.PathError{Op: "accept", Path: l.addr, Err: err}
	}
	if errno != 0 {
		return nil, &os.PathError{Op: "accept", Path: l.addr, Err: os.NewSyscallError("accept4", errno)}
	}
	name := l.addr
	if l.tcp {
		// Responses are written whole; Nagle would only add latency.
		_ = syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if sa, err := syscall.Getpeername(nfd); err == nil {
			name = sockaddrString(sa) // the peer, for error messages
		}
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// Close stops listening. Pending and later Accept calls fail with ErrClosed.
func (l *listener) Close() error {
	if l.closed.Swap(true) {
		return &os.PathError{Op: "close", Path: l.addr, Err: ErrClosed}
	}
	return l.f.Close()
}

// Addr returns the bound address.
func (l *listener) Addr() string { return l.addr }

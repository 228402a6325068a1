package sock

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Dial opens a TCP connection to addr. The connect is non-blocking and waits
// in the runtime poller, so it ends as soon as the kernel has an answer
// (ECONNREFUSED at once for a closed local port) or when ctx is done; then
// the error matches ctx.Err(). Other failures are *os.PathError values
// wrapping the syscall error, e.g. errors.Is(err, syscall.ECONNREFUSED).
func Dial(ctx context.Context, addr netip.AddrPort) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := addr.String()
	fail := func(call string, err error) (Conn, error) {
		if call != "" {
			err = os.NewSyscallError(call, err)
		}
		return nil, &os.PathError{Op: "dial", Path: name, Err: err}
	}
	sa, family, err := inetSockaddr(addr)
	if err != nil {
		return fail("", err)
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|sockFlags, syscall.IPPROTO_TCP)
	if err != nil {
		return fail("socket", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	for {
		err = syscall.Connect(fd, sa)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil && !errors.Is(err, syscall.EINPROGRESS) {
		syscall.Close(fd)
		return fail("connect", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := awaitConnect(ctx, f); err != nil {
		f.Close()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return fail("connect", err)
	}
	return f, nil
}

// awaitConnect waits until the in-progress connect on f completes and returns
// its outcome (SO_ERROR). ctx's deadline and cancellation become a past write
// deadline, which wakes the poller.
func awaitConnect(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		switch {
		case err != nil:
			soErr = err
		case v != 0 && v != int(syscall.EINPROGRESS) && v != int(syscall.EALREADY) && v != int(syscall.EINTR):
			soErr = syscall.Errno(v)
		default:
			// No error yet: connected only if the kernel knows the peer.
			if _, err := syscall.Getpeername(int(fd)); err == syscall.ENOTCONN {
				return false
			}
		}
		return true
	})
	if !stop() || ctx.Err() != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		return context.Canceled
	}
	if errors.Is(werr, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded // the deadline was ctx's
	}
	if werr != nil {
		return werr
	}
	if soErr != nil {
		return soErr
	}
	return f.SetWriteDeadline(time.Time{})
}

// RouteSource returns the local address the kernel would use as the source
// when sending to dst: the address of the interface holding the route. It
// connects a UDP socket, which only consults the routing table; no packet is
// sent. It fails (ENETUNREACH) when there is no route.
func RouteSource(dst netip.Addr) (netip.Addr, error) {
	fail := func(call string, err error) (netip.Addr, error) {
		if call != "" {
			err = os.NewSyscallError(call, err)
		}
		return netip.Addr{}, &os.PathError{Op: "route", Path: dst.String(), Err: err}
	}
	sa, family, err := inetSockaddr(netip.AddrPortFrom(dst, 9)) // any non-zero port
	if err != nil {
		return fail("", err)
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return fail("socket", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, sa); err != nil {
		return fail("connect", err)
	}
	local, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	ap, ok := sockaddrAddr(local)
	if !ok {
		return fail("getsockname", syscall.EAFNOSUPPORT)
	}
	return ap.Addr(), nil
}

package procstat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit is how a process ended, as the kernel's process events connector
// tells it: the host agent cannot wait for a Firecracker process that is
// not its child, but the connector reports every process's exit status.
type Exit struct {
	PID    int
	Code   int // exit code; valid when Signal is 0
	Signal int // the signal that killed it, 0 for a normal exit
	At     time.Time
}

// Reason says it for a person: "exited with code 1", "killed by SIGKILL".
func (e Exit) Reason() string {
	if e.Signal != 0 {
		return "killed by " + unix.SignalName(syscall.Signal(e.Signal))
	}
	return fmt.Sprintf("exited with code %d", e.Code)
}

// The kernel's process events connector (include/uapi/linux/cn_proc.h,
// connector.h): a netlink socket of protocol NETLINK_CONNECTOR joined to
// the CN_IDX_PROC group, told to start with PROC_CN_MCAST_LISTEN.
const (
	cnIdxProc        = 1
	cnValProc        = 1
	procCnMcastListn = 1
	procEventExit    = 0x80000000
	cnMsgLen         = 20 // struct cn_msg without its data
)

// WatchExits reports every process exit on the host (thread-group leaders
// only: the process, not each thread) until ctx ends. It needs
// CAP_NET_ADMIN, as the host agent running as root has. The channel is
// closed when watching ends.
func WatchExits(ctx context.Context) (<-chan Exit, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("process events connector: %w", err)
	}
	fail := func(what string, err error) (<-chan Exit, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("process events connector: %s: %w", what, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		return fail("bind", err)
	}
	// A timeout on receiving lets the reader notice ctx ending: closing
	// the socket does not wake a blocked recvfrom.
	tv := unix.Timeval{Sec: 0, Usec: 250_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("timeout", err)
	}
	// Room for bursts: a host agent busy for a moment must not lose exits.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	c := msg[unix.NLMSG_HDRLEN:]
	binary.NativeEndian.PutUint32(c[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(c[4:], cnValProc)
	binary.NativeEndian.PutUint16(c[16:], 4)
	binary.NativeEndian.PutUint32(c[cnMsgLen:], procCnMcastListn)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("listen", err)
	}
	out := make(chan Exit, 256)
	go func() {
		defer close(out)
		defer unix.Close(fd)
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue // a timeout, or exits lost in a burst: carry on
			}
			if err != nil {
				return
			}
			for _, e := range parseExits(buf[:n], time.Now()) {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// parseExits reads the exits of one netlink datagram; anything it does not
// recognise is skipped.
func parseExits(b []byte, now time.Time) []Exit {
	var out []Exit
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b[0:]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return out
		}
		data := b[unix.NLMSG_HDRLEN:n]
		// cn_msg, then struct proc_event: what, cpu, timestamp_ns, and the
		// exit event's process_pid, process_tgid, exit_code, exit_signal.
		if len(data) >= cnMsgLen+32 && binary.NativeEndian.Uint32(data[0:]) == cnIdxProc {
			ev := data[cnMsgLen:]
			if binary.NativeEndian.Uint32(ev[0:]) == procEventExit {
				pid := binary.NativeEndian.Uint32(ev[16:])
				tgid := binary.NativeEndian.Uint32(ev[20:])
				status := binary.NativeEndian.Uint32(ev[24:])
				if pid == tgid {
					e := Exit{PID: int(pid), At: now}
					if sig := status & 0x7f; sig != 0 {
						e.Signal = int(sig)
					} else {
						e.Code = int(status>>8) & 0xff
					}
					out = append(out, e)
				}
			}
		}
		b = b[(n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1):]
	}
	return out
}

package sock

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// AF_VSOCK constants from <linux/vm_sockets.h>; package syscall lacks them.
const (
	afVsock  = 40
	portAny  = 0xFFFFFFFF // VMADDR_PORT_ANY: let the kernel pick a port
	sizeofVM = 16         // sizeof(struct sockaddr_vm)
)

// sockaddrVM mirrors struct sockaddr_vm. syscall.Bind cannot take it (its
// Sockaddr interface is sealed), so it goes to the raw system call; this is the
// one place the package needs unsafe, and only to pass its address.
type sockaddrVM struct {
	family    uint16
	reserved1 uint16
	port      uint32
	cid       uint32
	flags     uint8
	zero      [3]uint8
}

// listenVsock binds an AF_VSOCK stream socket. Port 0 becomes
// VMADDR_PORT_ANY; Addr then reports the port the kernel chose.
func listenVsock(addr string, la listenAddr) (Listener, error) {
	fail := func(call string, err error) (Listener, error) {
		return nil, &os.PathError{Op: "listen", Path: addr, Err: os.NewSyscallError(call, err)}
	}
	fd, err := syscall.Socket(afVsock, syscall.SOCK_STREAM|sockFlags, 0)
	if err != nil {
		return fail("socket", err)
	}
	sa := sockaddrVM{family: afVsock, port: la.port, cid: la.cid}
	if sa.port == 0 {
		sa.port = portAny
	}
	_, _, e := syscall.Syscall(syscall.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), sizeofVM)
	if e != 0 {
		syscall.Close(fd)
		return fail("bind", e)
	}
	if err := syscall.Listen(fd, listenBacklog); err != nil {
		syscall.Close(fd)
		return fail("listen", err)
	}
	cid, port, err := vsockName(fd)
	if err != nil {
		syscall.Close(fd)
		return fail("getsockname", err)
	}
	return newListener(fd, formatVsock(cid, port), false)
}

// vsockName returns the CID and port an AF_VSOCK socket is bound to.
func vsockName(fd int) (cid, port uint32, err error) {
	var sa sockaddrVM
	n := uint32(sizeofVM)
	_, _, e := syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(fd),
		uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return 0, 0, e
	}
	return sa.cid, sa.port, nil
}

// NoVsock reports whether err means the kernel has no AF_VSOCK (the vsock
// module is not loaded, or a kernel built without it).
func NoVsock(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT) ||
		errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

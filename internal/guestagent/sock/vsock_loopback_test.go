//go:build vsockloopback

package sock

// This test needs the kernel's vsock loopback transport (vsock_loopback,
// CONFIG_VSOCKETS_LOOPBACK), which the development and CI hosts lack: they
// are microVMs without it. test/guestvm builds it with -tags vsockloopback
// and runs it inside a QEMU guest that loads the module, as part of make test.

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestVsockLoopback connects to a vsock listener through CID 1 (the local
// machine) and checks that bytes arrive.
func TestVsockLoopback(t *testing.T) {
	l := listenVsockOrSkip(t)
	la, _ := parseListenAddr(l.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	client, err := dialVsock(ctx, cidLocal, la.port)
	if err != nil {
		t.Fatalf("connect to vsock CID 1 port %d: %v", la.port, err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer c.Close()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
}

// cidLocal is VMADDR_CID_LOCAL, served by the vsock_loopback transport.
const cidLocal = 1

// dialVsock connects to cid:port with a raw non-blocking socket.
func dialVsock(ctx context.Context, cid, port uint32) (*os.File, error) {
	fd, err := syscall.Socket(afVsock, syscall.SOCK_STREAM|sockFlags, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	sa := sockaddrVM{family: afVsock, cid: cid, port: port}
	_, _, e := syscall.Syscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), sizeofVM)
	if e != 0 && e != syscall.EINPROGRESS {
		syscall.Close(fd)
		return nil, os.NewSyscallError("connect", e)
	}
	f := os.NewFile(uintptr(fd), "vsock client")
	if err := awaitConnect(ctx, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

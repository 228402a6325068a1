package sock

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenVsockOrSkip listens on a free vsock port, skipping when the kernel
// has no AF_VSOCK at all.
func listenVsockOrSkip(t *testing.T) Listener {
	t.Helper()
	if _, err := os.Stat("/dev/vsock"); err != nil {
		t.Skip("no /dev/vsock: kernel without AF_VSOCK (CONFIG_VSOCKETS) or no vsock device")
	}
	l, err := Listen("vsock://:0")
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Skip("AF_VSOCK not supported by this kernel: ", err)
	}
	if err != nil {
		t.Fatalf("Listen(vsock://:0): %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestVsockListen(t *testing.T) {
	l := listenVsockOrSkip(t)
	la, err := parseListenAddr(l.Addr())
	if err != nil || !strings.HasPrefix(l.Addr(), "vsock://:") || la.port == 0 || la.port == portAny {
		t.Fatalf("Addr() = %q (%v); want vsock://:PORT with the chosen port", l.Addr(), err)
	}
	if _, err := Listen(l.Addr()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second Listen(%q) = %v; want EADDRINUSE", l.Addr(), err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Accept after Close = %v; want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("vsock Accept still blocked after Close")
	}
}

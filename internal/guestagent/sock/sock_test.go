package sock

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// listen opens a listener closed at the end of the test.
func listen(t *testing.T, addr string) Listener {
	t.Helper()
	l, err := Listen(addr)
	if err != nil {
		t.Fatalf("Listen(%q): %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptOne accepts in the background and delivers the connection.
func acceptOne(t *testing.T, l Listener) <-chan Conn {
	t.Helper()
	ch := make(chan Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

// roundTrip checks that bytes flow both ways between a client and server.
func roundTrip(t *testing.T, client net.Conn, server Conn) {
	t.Helper()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatalf("client write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatalf("server write: %v", err)
	}
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v", buf, err)
	}
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func TestListenAcceptLoopback(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	ap, err := netip.ParseAddrPort(l.Addr())
	if err != nil || ap.Port() == 0 || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("Addr() = %q (%v); want 127.0.0.1 and a real port", l.Addr(), err)
	}
	ch := acceptOne(t, l)
	client, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-ch
	if server == nil {
		t.FailNow()
	}
	defer server.Close()
	roundTrip(t, client, server)
}

func TestListenDualStack(t *testing.T) {
	l := listen(t, ":0")
	port := l.Addr()[1:]
	if l.Addr()[0] != ':' {
		t.Fatalf("Addr() = %q; want :PORT", l.Addr())
	}
	targets := []string{"127.0.0.1:" + port}
	if hasIPv6Loopback() {
		targets = append(targets, "[::1]:"+port)
	} else {
		t.Log("no IPv6 loopback; checking IPv4 only")
	}
	for _, target := range targets {
		ch := acceptOne(t, l)
		client, err := net.Dial("tcp", target)
		if err != nil {
			t.Fatalf("dial %s: %v", target, err)
		}
		server := <-ch
		if server == nil {
			t.FailNow()
		}
		roundTrip(t, client, server)
		client.Close()
		server.Close()
	}
}

func TestListenIPv6Only(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback address (::1) on this machine")
	}
	l := listen(t, "[::1]:0")
	ch := acceptOne(t, l)
	client, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-ch
	if server == nil {
		t.FailNow()
	}
	defer server.Close()
	roundTrip(t, client, server)
}

func TestListenInUse(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	_, err := Listen(l.Addr())
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second Listen(%q) = %v; want EADDRINUSE", l.Addr(), err)
	}
}

func TestCloseUnblocksAccept(t *testing.T) {
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Accept park in the poller
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Accept after Close = %v; want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still blocked 2s after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Accept = %v; want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v; want ErrClosed", err)
	}
}

func TestReadDeadline(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	ch := acceptOne(t, l)
	client, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-ch
	if server == nil {
		t.FailNow()
	}
	defer server.Close()
	start := time.Now()
	server.SetReadDeadline(start.Add(100 * time.Millisecond))
	_, err = server.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v; want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Read returned after %v; want about 100ms", d)
	}
}

func TestCloseWrite(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	ch := acceptOne(t, l)
	client, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-ch
	if server == nil {
		t.FailNow()
	}
	defer server.Close()
	server.Write([]byte("bye"))
	if err := CloseWrite(server); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v; want \"bye\" then EOF", got, err)
	}
	client.Write([]byte("x")) // the server can still read
	buf := make([]byte, 1)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatalf("server read after CloseWrite: %v", err)
	}
}

func TestRouteSource(t *testing.T) {
	got, err := RouteSource(netip.MustParseAddr("127.0.0.1"))
	if err != nil || got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("RouteSource(127.0.0.1) = %v, %v", got, err)
	}
	if hasIPv6Loopback() {
		got, err := RouteSource(netip.MustParseAddr("::1"))
		if err != nil || got != netip.IPv6Loopback() {
			t.Fatalf("RouteSource(::1) = %v, %v", got, err)
		}
	}
	if _, err := RouteSource(netip.Addr{}); err == nil {
		t.Fatal("RouteSource(invalid) succeeded")
	}
}

package sock

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	server := <-ch
	if server == nil {
		t.Fatal("accept failed")
	}
	defer server.Close()
	roundTrip(t, server, c)
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	start := time.Now()
	_, err = Dial(context.Background(), addr)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to closed port = %v; want ECONNREFUSED", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("refusal took %v; want it at once", d)
	}
}

// blackhole returns an address whose connects hang: a listener with a full
// accept queue, on which the kernel drops further SYNs.
func blackhole(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := sockaddrString(sa)
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return netip.MustParseAddrPort(addr) // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen queue to get a blackholed address")
	return netip.AddrPort{}
}

func TestDialContextTimeout(t *testing.T) {
	addr := blackhole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, addr)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Dial returned after %v; want about 200ms", d)
	}
}

func TestDialContextCancel(t *testing.T) {
	addr := blackhole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Dial(ctx, addr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial returned %v after cancel", d)
	}
	if _, err := Dial(ctx, addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context = %v", err)
	}
}

package firecracker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpconn"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// standIn serves a Firecracker stand-in whose vsock port 8080 forwards to
// guest (a TCP address; "" refuses), and returns its vsock socket.
func standIn(t *testing.T, guest string) (*fcstandin.VM, string) {
	t.Helper()
	dir := t.TempDir()
	uds := filepath.Join(dir, "v.sock")
	fwd := map[uint32]string{}
	if guest != "" {
		fwd[8080] = guest
	}
	vm, err := fcstandin.Start(fcstandin.Config{ID: "vm-1", Vsock: &fcstandin.Vsock{GuestCID: 3, UDSPath: uds}},
		fcstandin.Options{APISock: filepath.Join(dir, "api.sock"), Forward: fwd, Running: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	return vm, uds
}

// guestServer answers /metrics with a counter, on loopback.
func guestServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprintf(w, `{"n":%d}`, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func vsockConn(uds string) *httpconn.Conn {
	return &httpconn.Conn{Dial: func(ctx context.Context) (net.Conn, error) { return DialVsock(ctx, Unix(uds), 8080) }}
}

// TestVsockHandshakeKeepsTheAnswer: the bytes the guest sends right behind
// "OK <port>\n" are not swallowed by the handshake (a buffered reader
// there loses them).
func TestVsockHandshakeKeepsTheAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // a guest that speaks first, at once
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hello from the guest\n")
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	_, uds := standIn(t, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := DialVsock(ctx, Unix(uds), 8080)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello from the guest\n" {
		t.Fatalf("first bytes behind OK: %q, %v", line, err)
	}
}

// TestVsockThousandPolls: one connection carries 1,000 sequential polls.
func TestVsockThousandPolls(t *testing.T) {
	srv, n := guestServer(t, 0)
	_, uds := standIn(t, srv.Listener.Addr().String())
	c := vsockConn(uds)
	defer c.Close()
	start := time.Now()
	for i := range 1000 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r, err := c.Do(ctx, "GET", "/metrics", nil)
		cancel()
		if err != nil || r.Status != 200 || string(r.Body) != fmt.Sprintf(`{"n":%d}`, i+1) {
			t.Fatalf("poll %d: %+v %v", i, r, err)
		}
	}
	t.Logf("1,000 polls over one vsock connection in %v (%.0f/s)", time.Since(start), 1000/time.Since(start).Seconds())
	if n.Load() != 1000 {
		t.Errorf("the guest answered %d polls", n.Load())
	}
}

// TestVsockRefusedPort: Firecracker closes the connection when nothing
// listens on the guest port: a clear error, at once.
func TestVsockRefusedPort(t *testing.T) {
	_, uds := standIn(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := DialVsock(ctx, Unix(uds), 8080)
	if !errors.Is(err, ErrVsockRefused) || time.Since(start) > time.Second {
		t.Fatalf("refused port: %v after %v", err, time.Since(start))
	}
	if _, err := DialVsock(ctx, Unix(filepath.Join(t.TempDir(), "none.sock")), 8080); err == nil {
		t.Fatal("a missing vsock socket was dialled")
	}
}

// TestVsockSlowGuest: a guest slower than the deadline fails the poll
// within the deadline; the next poll works on a new connection.
func TestVsockSlowGuest(t *testing.T) {
	srv, _ := guestServer(t, 500*time.Millisecond)
	_, uds := standIn(t, srv.Listener.Addr().String())
	c := vsockConn(uds)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	_, err := c.Do(ctx, "GET", "/metrics", nil)
	cancel()
	if err == nil || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("slow guest: %v after %v", err, time.Since(start))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r, err := c.Do(ctx, "GET", "/metrics", nil); err != nil || r.Status != 200 {
		t.Fatalf("the next poll: %+v %v", r, err)
	}
}

// TestVsockResetAfterRestore: a snapshot restore resets vsock connections;
// the next poll fails on the kept one and succeeds on a new one.
func TestVsockResetAfterRestore(t *testing.T) {
	srv, _ := guestServer(t, 0)
	vm, uds := standIn(t, srv.Listener.Addr().String())
	c := vsockConn(uds)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Do(ctx, "GET", "/metrics", nil); err != nil {
		t.Fatal(err)
	}
	vm.Restore()
	time.Sleep(50 * time.Millisecond)
	r, err := c.Do(ctx, "GET", "/metrics", nil) // retried on a fresh connection
	if err != nil || r.Status != 200 {
		t.Fatalf("after restore: %+v %v", r, err)
	}
}

func TestParseOK(t *testing.T) {
	for in, want := range map[string]uint32{"OK 1073741824\n": 1073741824, "OK 0\n": 0} {
		if got, err := ParseOK([]byte(in)); err != nil || got != want {
			t.Errorf("ParseOK(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "OK\n", "OK \n", "OK 12", "ok 12\n", "OK -1\n", "OK +1\n", "OK 99999999999\n", "NO 1\n", "OK 1 2\n"} {
		if _, err := ParseOK([]byte(bad)); err == nil {
			t.Errorf("ParseOK(%q) accepted", bad)
		}
	}
}

func FuzzParseOK(f *testing.F) {
	for _, s := range []string{"OK 1073741824\n", "OK 0\n", "OK\n", "OK 1\r\n", strings.Repeat("9", 40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseOK(b)
		if err != nil {
			return
		}
		if want := fmt.Sprintf("OK %d\n", p); string(b) != want && !strings.HasPrefix(string(b), "OK 0") {
			t.Fatalf("ParseOK(%q) = %d, which reads %q", b, p, want)
		}
	})
}

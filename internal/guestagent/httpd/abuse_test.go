package httpd

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestHugeHeaderMemory(t *testing.T) {
	addr, _ := start(t, &Server{})
	req := "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	round := func() {
		c := dial(t, addr)
		c.send(req)
		resp, _ := c.read("GET")
		if resp.StatusCode != 431 {
			t.Fatalf("64 KiB header: %s; want 431", resp.Status)
		}
		c.expectEOF(2 * time.Second)
		c.Close()
	}
	for i := 0; i < 20; i++ { // warm up pools
		round()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 200; i++ {
		round()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use: %d before, %d after 200 requests with a 64 KiB header", before.HeapInuse, after.HeapInuse)
	if grew > 4<<20 {
		t.Errorf("heap in use grew by %d bytes over 200 oversized requests; want < 4 MiB", grew)
	}
}

func TestIdleConnsDoNotLockOut(t *testing.T) {
	addr, l := start(t, &Server{MaxConns: 512})
	var idle []net.Conn
	for i := 0; i < 1000; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// Let the server accept them all (and evict the oldest).
	for deadline := time.Now().Add(5 * time.Second); l.n.Load() < 1000 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(time.Second))
	c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.read("GET")
	if resp.StatusCode != 200 || body != "OK" {
		t.Fatalf("health with 1000 idle connections: %s %q", resp.Status, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("health took %v with 1000 idle connections", d)
	}
	// The first idle connections were evicted: they read EOF.
	idle[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("oldest idle connection still open")
	}
}

// TestStalledHeadsAreEvicted: connections that sent part of a head and
// stalled hold no slot against a new client: the oldest of them is closed
// to admit it.
func TestStalledHeadsAreEvicted(t *testing.T) {
	addr, _ := start(t, &Server{MaxConns: 2})
	var stalled []*rawConn
	for i := 0; i < 2; i++ {
		c := dial(t, addr)
		c.send("G")
		stalled = append(stalled, c)
		time.Sleep(50 * time.Millisecond) // the first is the older
	}
	c := dial(t, addr)
	c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.read("GET")
	if resp.StatusCode != 200 || body != "OK" {
		t.Fatalf("a new client while two heads stall: %s %q", resp.Status, body)
	}
	stalled[0].expectEOF(2 * time.Second)
}

// TestFullOfActiveConnsRefuses: when every slot is busy answering a
// request, a new connection gets 503 and is closed.
func TestFullOfActiveConnsRefuses(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := func(r *Request) Response {
		<-release
		return Response{Body: []byte("OK")}
	}
	addr, _ := start(t, &Server{MaxConns: 2, Handler: h})
	for i := 0; i < 2; i++ {
		c := dial(t, addr)
		c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	time.Sleep(100 * time.Millisecond)
	c := dial(t, addr)
	resp, _ := c.read("GET")
	if resp.StatusCode != 503 || !resp.Close {
		t.Fatalf("third connection: %s; want 503 and close", resp.Status)
	}
}

// TestPartialHeadDeadlineWhenCrowded: once more than half the slots are
// taken, a head must complete within a second, not ReadHeaderTimeout.
func TestPartialHeadDeadlineWhenCrowded(t *testing.T) {
	addr, _ := start(t, &Server{MaxConns: 4, ReadHeaderTimeout: 30 * time.Second})
	for i := 0; i < 3; i++ {
		dial(t, addr) // idle, taking slots
	}
	time.Sleep(50 * time.Millisecond)
	c := dial(t, addr)
	start := time.Now()
	c.send("GET /health HTTP/1.1\r\n")
	resp, _ := c.read("GET")
	if resp.StatusCode != 408 {
		t.Fatalf("stalled head on a crowded server: %s; want 408", resp.Status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v; want about %v", d, partialTimeout)
	}
}

func TestSlowlorisCutOff(t *testing.T) {
	addr, _ := start(t, &Server{ReadHeaderTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	start := time.Now()
	c.send("GET /health HTTP/1.1\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 100 ms, forever
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := c.Conn.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()
	resp, _ := c.read("GET")
	if resp.StatusCode != 408 || !resp.Close {
		t.Fatalf("slowloris got %s; want 408 and close", resp.Status)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("slowloris cut off after %v; want about 300ms", d)
	}
}

func TestIdleTimeout(t *testing.T) {
	addr, _ := start(t, &Server{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	start := time.Now()
	c.expectEOF(2 * time.Second)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("idle connection closed after %v; want about 200ms", d)
	}
	// A connection that never sends anything is closed the same way.
	c = dial(t, addr)
	c.expectEOF(2 * time.Second)
}

package hub

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func TestStreamsCarryTheirVMs(t *testing.T) {
	e := newEnv(t, Options{})
	a, b, all := e.dial("/vm/a"), e.dial("/vm/b"), e.dial("/all")
	e.waitSubscribers(3)

	published := []wire.CombinedSample{sample("a", 1), sample("b", 2), sample("a", 3)}
	for _, s := range published {
		e.h.Publish(s)
	}
	// Order is kept per client, so a's second message being a@3 also shows
	// that b's sample never reached a.
	for _, tc := range []struct {
		name string
		c    *websocket.Conn
		want []wire.CombinedSample
	}{
		{"vm a", a, []wire.CombinedSample{published[0], published[2]}},
		{"vm b", b, []wire.CombinedSample{published[1]}},
		{"all", all, published},
	} {
		for i, want := range tc.want {
			got, err := readSample(tc.c, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: message %d: %v", tc.name, i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: message %d = %+v, want %+v", tc.name, i, got, want)
			}
		}
	}
}

func TestThousandSubscribers(t *testing.T) {
	const n = 1000
	e := newEnv(t, Options{})
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			path := "/all"
			if i%2 == 1 {
				path = "/vm/busy"
			}
			c, err := e.tryDial(path)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	})
	e.waitSubscribers(n)

	start := time.Now()
	want := sample("busy", 42)
	e.h.Publish(want)
	got := make(chan error, n)
	for _, c := range conns {
		go func() {
			s, err := readSample(c, 10*time.Second)
			if err == nil && !reflect.DeepEqual(s, want) {
				err = errors.New("wrong sample")
			}
			got <- err
		}()
	}
	for range n {
		if err := <-got; err != nil {
			t.Fatalf("a subscriber: %v", err)
		}
	}
	t.Logf("%d subscribers received the sample in %v", n, time.Since(start))
}

func TestSlowClientIsDropped(t *testing.T) {
	// CloseGrace is long enough for the slow client to drain its backlog
	// and still see the close frame once it starts reading.
	e := newEnv(t, Options{Buffer: 4, CloseGrace: 5 * time.Second})
	slow, fast := e.dial("/vm/a"), e.dial("/vm/a")
	e.waitSubscribers(2)

	// Big messages fill the socket buffers of the client that never reads;
	// the publisher goes in step with the fast client, which therefore
	// never falls behind.
	id := "a"
	big := sample(id, 0)
	big.GuestAgent.LastError = strings.Repeat("x", 16<<10) // under the client's 32 KiB read limit
	next := int64(1)
	publishAndRead := func() {
		t.Helper()
		s := big
		s.TimestampMs = next
		e.h.Publish(s)
		got, err := readSample(fast, 5*time.Second)
		if err != nil {
			t.Fatalf("fast client, sample %d: %v", next, err)
		}
		if got.TimestampMs != next {
			t.Fatalf("fast client got sample %d, want %d", got.TimestampMs, next)
		}
		next++
	}
	for e.h.Dropped() == 0 {
		if next > 20000 {
			t.Fatal("slow client not dropped after 20000 samples")
		}
		publishAndRead()
	}
	t.Logf("slow client dropped after %d samples", next-1)
	for range 10 {
		publishAndRead()
	}
	if d := e.h.Dropped(); d != 1 {
		t.Errorf("Dropped() = %d, want 1", d)
	}

	// Reading at last, the slow client gets its backlog, then the reason.
	var err error
	for err == nil {
		_, err = readSample(slow, 5*time.Second)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "too slow") {
		t.Errorf("slow client's end: %v, want policy violation, too slow", err)
	}
	e.waitSubscribers(1)
}

func TestCloseEndsEveryStream(t *testing.T) {
	e := newEnv(t, Options{CloseGrace: 200 * time.Millisecond})
	readers := []*websocket.Conn{e.dial("/vm/a"), e.dial("/all")}
	deaf := e.dial("/vm/b") // never reads, so never answers the close handshake
	e.waitSubscribers(3)

	ends := make(chan error, len(readers))
	for _, c := range readers {
		go func() {
			_, err := readSample(c, 10*time.Second)
			ends <- err
		}()
	}
	start := time.Now()
	e.h.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	for range readers {
		if err := <-ends; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("reader's end: %v, want going away", err)
		}
	}
	if n := e.h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() after Close = %d", n)
	}
	_ = deaf

	for _, path := range []string{"/all", "/vm/a"} {
		_, err := e.tryDial(path)
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("dialing %s after Close: %v, want 503", path, err)
		}
	}
	e.h.Close() // a second call is harmless
	e.h.Publish(sample("a", 9))
}

func TestOriginChecked(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		patterns     []string
		want         int
	}{
		{"no origin", "", nil, http.StatusSwitchingProtocols},
		{"other origin", "http://evil.example", nil, http.StatusForbidden},
		{"allowed origin", "https://ui.example", []string{"ui.example"}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{OriginPatterns: tc.patterns})
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/all", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestDeadPeerIsNoticedByPing(t *testing.T) {
	e := newEnv(t, Options{PingInterval: 50 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	alive := e.dial("/all")
	alive.CloseRead(t.Context()) // answers pings, as browsers do
	deaf := e.dial("/all")       // never reads, so never answers a ping
	e.waitSubscribers(2)
	// The deaf one is cut after a missed pong, by when the live one has
	// answered several pings.
	e.waitSubscribers(1)
	if n := e.h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d, want the live client kept", n)
	}
	if d := e.h.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d: a dead peer is not a slow one", d)
	}
	_ = deaf
}

func TestSubprotocolEchoed(t *testing.T) {
	e := newEnv(t, Options{Subprotocols: []string{"fcmon.v1"}})
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/all"
	c, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{
		HTTPClient: e.client, Subprotocols: []string{"fcmon.v1", "bearer.s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if p := c.Subprotocol(); p != "fcmon.v1" {
		t.Errorf("negotiated subprotocol %q, want fcmon.v1 (never the token)", p)
	}
}

// The manager's server has read and write timeouts; streams outlive them
// (net/http clears the connection's deadlines when it is hijacked).
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	e := newEnv(t, Options{}, func(s *http.Server) {
		s.ReadTimeout, s.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
	})
	c := e.dial("/vm/a")
	e.waitSubscribers(1)
	for i := range 3 {
		<-time.After(150 * time.Millisecond) // past both timeouts
		e.h.Publish(sample("a", int64(i)))
		if _, err := readSample(c, 2*time.Second); err != nil {
			t.Fatalf("after %d00 ms: %v", (i+1)*15/10, err)
		}
	}
}

// TestMaxClients: streams beyond MaxClients get a 503 saying why; when one
// leaves, a new one is admitted.
func TestMaxClients(t *testing.T) {
	e := newEnv(t, Options{MaxClients: 3})
	var conns []*websocket.Conn
	for range 3 {
		conns = append(conns, e.dial("/all"))
	}
	_, err := e.tryDial("/all")
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("fourth stream: %v, want a 503", err)
	}
	resp, herr := e.client.Get(e.srv.URL + "/all")
	if herr != nil {
		t.Fatal(herr)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "--max-streams") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("refusal: %d %s", resp.StatusCode, body)
	}
	conns[0].Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := e.tryDial("/vm/x")
		if err == nil {
			c.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream admitted after one left: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// env is a Hub behind a real HTTP server: /vm/{id} streams one VM, /all
// every VM.
type env struct {
	t      *testing.T
	h      *Hub
	srv    *httptest.Server
	client *http.Client
}

// newEnv starts a hub and its server; cleanup closes both and then fails
// the test if goroutines are left over.
// Each config function may adjust the server before it starts.
func newEnv(t *testing.T, opt Options, config ...func(*http.Server)) *env {
	t.Helper()
	before := runtime.NumGoroutine()
	h := New(opt)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vm/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.ServeVM(w, r, r.PathValue("id"))
	})
	// ?only=a,b keeps those VMs only; ?label= selects the fleet's.
	keep := func(r *http.Request) func(string) bool {
		only := r.URL.Query().Get("only")
		if only == "" {
			return nil
		}
		ids := strings.Split(only, ",")
		return func(id string) bool { return slices.Contains(ids, id) }
	}
	mux.HandleFunc("GET /all", func(w http.ResponseWriter, r *http.Request) { h.ServeAll(w, r, keep(r)) })
	mux.HandleFunc("GET /fleet", func(w http.ResponseWriter, r *http.Request) {
		sel, err := labels.Parse(r.URL.Query()["label"])
		if err != nil {
			t.Errorf("label: %v", err)
		}
		h.ServeFleet(w, r, sel, keep(r))
	})
	srv := httptest.NewUnstartedServer(mux)
	for _, f := range config {
		f(srv.Config)
	}
	srv.Start()
	tr := &http.Transport{}
	e := &env{t: t, h: h, srv: srv, client: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		tr.CloseIdleConnections()
		checkGoroutines(t, before)
	})
	return e
}

// dial opens a stream; the connection is cut at the end of the test.
func (e *env) dial(path string) *websocket.Conn {
	e.t.Helper()
	c, err := e.tryDial(path)
	if err != nil {
		e.t.Fatalf("dialing %s: %v", path, err)
	}
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func (e *env) tryDial(path string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: e.client})
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	}
	return c, nil
}

// waitSubscribers waits until the hub counts n clients.
func (e *env) waitSubscribers(n int) {
	e.t.Helper()
	eventually(e.t, 10*time.Second, func() bool { return e.h.Subscribers() == n },
		func() string {
			return "subscribers: want " + strconv.Itoa(n) + ", have " + strconv.Itoa(e.h.Subscribers())
		})
}

// readSample reads one message and decodes it.
func readSample(c *websocket.Conn, timeout time.Duration) (wire.CombinedSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var s wire.CombinedSample
	typ, b, err := c.Read(ctx)
	if err != nil {
		return s, err
	}
	if typ != websocket.MessageText {
		return s, &json.UnsupportedValueError{Str: "binary message"}
	}
	err = json.Unmarshal(b, &s)
	return s, err
}

// sample builds a guest-sourced sample with every kind of field set.
func sample(vmID string, ts int64) wire.CombinedSample {
	cpu, mem := 12.5, 40.0
	used, total, avail, up := uint64(1000), uint64(2500), uint64(1500), uint64(77)
	return wire.CombinedSample{
		VMID: vmID, TimestampMs: ts, Source: wire.SourceGuest,
		CPUUsagePercent: &cpu, MemoryUsagePercent: &mem, MemoryUsedKB: &used,
		MemoryTotalKB: &total, MemoryAvailableKB: &avail, UptimeSeconds: &up,
		Network:    &wire.NetworkRates{RxBytesPerSec: 10, TxBytesPerSec: 20, Source: wire.RatesFirecracker},
		GuestAgent: wire.GuestAgentStatus{Reachable: true, LastSuccessMs: ts},
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg())
		}
		<-tick.C
	}
}

// checkGoroutines fails t when clearly more goroutines run than before it
// started (a few of the runtime's and net/http's may come and go).
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	const slack = 4
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before+slack && time.Now().Before(deadline) {
		<-tick.C
	}
	if n := runtime.NumGoroutine(); n > before+slack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
	}
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// testNow is the clock of every test API.
var testNow = time.UnixMilli(1_767_225_600_000)

// defaultAllow and defaultHostAllow are the manager's default
// --guest-allow-cidrs and --host-agent-allow-cidrs.
var (
	defaultAllow     = netpolicy.MustParseList("--guest-allow-cidrs", netpolicy.PrivateRanges)
	defaultHostAllow = netpolicy.MustParseList("--host-agent-allow-cidrs", netpolicy.LoopbackAndPrivate)
)

// noLookups is the resolver of every test API: tests never look a name up
// (only names this fake knows resolve).
func noLookups(_ context.Context, _, host string) ([]netip.Addr, error) {
	switch host {
	case "localhost":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
	case "fc-host-1.internal":
		return []netip.Addr{netip.MustParseAddr("10.0.0.9")}, nil
	case "rebound.example":
		return []netip.Addr{netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("169.254.169.254")}, nil
	}
	return nil, errors.New("no such host (tests resolve nothing)")
}

// env is an API over a real SQLite store with recording fakes for the
// collector, history and hub.
type env struct {
	api     *API
	h       http.Handler
	st      store.Store
	samples *fakeSamples
	hist    *fakeHistory
	forgot  []string
}

type fakeSamples struct {
	mu sync.Mutex
	m  map[string]wire.CombinedSample
}

func (f *fakeSamples) Latest(id string) (wire.CombinedSample, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[id]
	return s, ok
}

type fakeHistory struct {
	calls [][3]int64
	err   error
}

func (f *fakeHistory) Query(_ context.Context, id string, since, until, step int64) (wire.History, error) {
	f.calls = append(f.calls, [3]int64{since, until, step})
	if f.err != nil {
		return wire.History{}, f.err
	}
	return wire.History{VMID: id, SinceMs: since, UntilMs: until, StepMs: step, Resolution: wire.ResolutionRaw,
		Points: []wire.HistoryPoint{}}, nil
}

// fakeStreams answers 200 with the stream it was asked for and the
// request's query and subprotocols, so tests see what the hub would.
type fakeStreams struct{}

func (fakeStreams) ServeVM(w http.ResponseWriter, r *http.Request, id string) {
	io.WriteString(w, "vm "+id+" query="+r.URL.RawQuery+" proto="+r.Header.Get("Sec-WebSocket-Protocol"))
}

func (fakeStreams) ServeAll(w http.ResponseWriter, r *http.Request, keep func(string) bool) {
	io.WriteString(w, "all query="+r.URL.RawQuery+" proto="+r.Header.Get("Sec-WebSocket-Protocol")+scoped(keep))
}

func (fakeStreams) ServeFleet(w http.ResponseWriter, r *http.Request, sel labels.Selector, keep func(string) bool) {
	io.WriteString(w, "fleet query="+r.URL.RawQuery+" proto="+r.Header.Get("Sec-WebSocket-Protocol")+scoped(keep)+" sel="+sel.String())
}

// fakeMetrics answers a line saying whether the export was scoped.
type fakeMetrics struct{}

func (fakeMetrics) ServeMetrics(w http.ResponseWriter, r *http.Request, keep func(string) bool) {
	io.WriteString(w, "# prometheus"+scoped(keep)+"\n")
}

// scoped says whether a stream's filter is set.
func scoped(keep func(string) bool) string {
	if keep == nil {
		return ""
	}
	return " scoped"
}

func newEnv(t testing.TB, tune func(*Options)) *env {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "fcmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, samples: &fakeSamples{m: map[string]wire.CombinedSample{}}, hist: &fakeHistory{}}
	opt := Options{
		Store: st, Samples: e.samples, History: e.hist, Streams: fakeStreams{},
		Metrics:        fakeMetrics{},
		Forget:         func(id string) { e.forgot = append(e.forgot, id) },
		GuestAllow:     defaultAllow,
		HostAgentAllow: defaultHostAllow,
		Resolve:        noLookups,
		Now:            func() time.Time { return testNow },
	}
	if tune != nil {
		tune(&opt)
	}
	e.api = New(opt)
	e.h = e.api.Handler()
	return e
}

// request describes one call.
type request struct {
	method, path string
	body         string
	header       map[string]string // Content-Type defaults to application/json with a body
}

func (e *env) do(t testing.TB, rq request) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	r.Host = "127.0.0.1:8080" // as a client of a manager on loopback sends it
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// create registers a VM and returns it, failing the test otherwise.
func (e *env) create(t testing.TB, body string) wire.VM {
	t.Helper()
	w := e.do(t, request{method: "POST", path: "/v1/vms", body: body})
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /v1/vms %s: %d %s", body, w.Code, w.Body)
	}
	var vm wire.VM
	decode(t, w, &vm)
	return vm
}

func (e *env) count(t testing.TB) int {
	t.Helper()
	vms, err := e.st.ListVMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(vms)
}

func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decoding %q: %v", w.Body, err)
	}
}

// errorOf returns the message of an {"error": ...} body, failing the test
// when the body has another shape.
func errorOf(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e map[string]string
	decode(t, w, &e)
	msg, ok := e["error"]
	if !ok || len(e) != 1 || msg == "" {
		t.Fatalf("error body %q is not {\"error\": \"...\"}", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return msg
}

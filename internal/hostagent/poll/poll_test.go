package poll

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestGuestOverTCP: a poller of a VM read over TCP gets the guest agent's
// document every round, with the header it is given, and reports a guest
// that stops answering.
func TestGuestOverTCP(t *testing.T) {
	var auth atomic.Value
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"cpu_usage_percent":5,"memory_usage_percent":50,"memory_used_kb":100,"memory_total_kb":200,"memory_available_kb":100,"uptime_seconds":9}`)
	}))
	defer srv.Close()
	p := New(Options{Interval: 100 * time.Millisecond, GuestAllow: netpolicy.MustParseList("t", "127.0.0.0/8"),
		GuestHeader: []string{"Authorization: Bearer guest-token"}},
		VM{ID: "vm-1", GuestAddr: strings.TrimPrefix(srv.URL, "http://")})
	p.Start()
	defer p.Close()
	wait := func(what string, ok func(*wire.GuestSample, map[string]string) bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			g, _, errs, _ := p.Snapshot(time.Now())
			if ok(g, errs) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v %v", what, g, errs)
			}
		}
	}
	wait("the guest's document", func(g *wire.GuestSample, _ map[string]string) bool {
		return g != nil && g.MemoryTotalKB == 200 && g.Transport == wire.TransportTCP
	})
	if a := auth.Load(); a != "Bearer guest-token" {
		t.Errorf("the guest agent got Authorization %q", a)
	}
	down.Store(true)
	wait("the guest's failure", func(_ *wire.GuestSample, errs map[string]string) bool {
		return strings.Contains(errs["guest"], "503")
	})
}

func TestParseMMDS(t *testing.T) {
	for body, want := range map[string]struct {
		set     string
		found   bool
		problem string
	}{
		`{}`:                          {},
		`"just a string"`:             {},
		`{"latest":{"meta-data":{}}}`: {},
		`{"fcmon":{}}`:                {},
		`{"fcmon":{"labels":{"tenant":"acme","tier":"x"}}}`: {set: "tenant=acme,tier=x", found: true},
		`{"fcmon":7}`:                       {found: true, problem: "not an object"},
		`{"fcmon":{"labels":{"tenant":1}}}`: {found: true, problem: "not a string"},
		`{"fcmon":{"labels":{"__x":"1"}}}`:  {found: true, problem: "reserves"},
	} {
		got := parseMMDS([]byte(body))
		if got.set.String() != want.set || got.found != want.found || !strings.Contains(got.problem, want.problem) || (want.problem == "") != (got.problem == "") {
			t.Errorf("%s: %+v, want %+v", body, got, want)
		}
	}
}

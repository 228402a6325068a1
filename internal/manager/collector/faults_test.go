package collector

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

const goodGuestJSON = `{"cpu_usage_percent":12.5,"memory_usage_percent":50,"memory_used_kb":1000,` +
	`"memory_total_kb":2000,"memory_available_kb":1000,"uptime_seconds":77,"some_future_field":{"x":1},` +
	`"network":[{"interface":"eth0","rx_bytes_per_sec":10,"tx_bytes_per_sec":20},{"interface":"eth1","rx_bytes_per_sec":1,"tx_bytes_per_sec":2}],` +
	`"disks":[{"device":"vda","read_bytes_per_sec":300,"write_bytes_per_sec":400}]}`

// standIn serves body (or runs fn) as a guest agent's /metrics.
func standIn(t *testing.T, fn http.HandlerFunc) Target {
	srv := httptest.NewServer(fn)
	t.Cleanup(srv.Close)
	host, port := splitAddr(t, strings.TrimPrefix(srv.URL, "http://"))
	return Target{GuestIP: host, GuestPort: port}
}

func serveBody(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
}

// TestBadGuestAgents: garbage, impossible figures, oversized bodies and
// hanging agents are failed polls with their reason, pass nothing on, and
// do not slow a healthy VM polled beside them.
func TestBadGuestAgents(t *testing.T) {
	huge := `{"cpu_usage_percent":1,"memory_usage_percent":1,"memory_used_kb":1,"memory_total_kb":2,` +
		`"memory_available_kb":1,"uptime_seconds":1,"hostname":"` + strings.Repeat("x", 2<<20) + `"}`
	hangDone := make(chan struct{})
	t.Cleanup(func() { close(hangDone) })
	cases := []struct {
		id, reason string
		handler    http.HandlerFunc
	}{
		{"garbage", agentclient.ReasonBadJSON, serveBody("<html>not json</html>")},
		{"trailing", agentclient.ReasonBadJSON, serveBody(goodGuestJSON + `{}`)},
		{"missing-fields", agentclient.ReasonBadJSON, serveBody(`{"memory_total_kb":5,"memory_used_kb":1}`)},
		{"cpu-250", agentclient.ReasonOutOfRange, serveBody(strings.Replace(goodGuestJSON, `"cpu_usage_percent":12.5`, `"cpu_usage_percent":250`, 1))},
		{"used-above-total", agentclient.ReasonOutOfRange, serveBody(strings.Replace(goodGuestJSON, `"memory_used_kb":1000`, `"memory_used_kb":3000`, 1))},
		{"oversized", agentclient.ReasonTooLarge, serveBody(huge)},
		{"status-500", agentclient.ReasonHTTPStatus, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{"redirect", agentclient.ReasonHTTPStatus, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
		}},
		{"hang", agentclient.ReasonTimeout, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-hangDone:
			}
		}},
	}
	h := newHarness(t, testInterval, nil)
	healthy := standIn(t, serveBody(goodGuestJSON))
	healthy.ID = "healthy"
	h.set(healthy)
	for _, c := range cases {
		tg := standIn(t, c.handler)
		tg.ID = c.id
		h.set(tg)
	}
	start := time.Now()
	time.Sleep(12 * testInterval)
	end := time.Now()

	for _, c := range cases {
		polls := h.pollsOf(c.id, KindGuest)
		if len(polls) == 0 {
			t.Errorf("%s: never polled", c.id)
			continue
		}
		// A loaded machine may let any request run out of time; every
		// other reason must be the expected one, and it must show up.
		seen := false
		for _, p := range polls {
			seen = seen || p.Reason == c.reason
			if p.Err == nil || (p.Reason != c.reason && p.Reason != agentclient.ReasonTimeout) {
				t.Errorf("%s: reason %q (%v), want %q", c.id, p.Reason, p.Err, c.reason)
			}
		}
		if !seen {
			t.Errorf("%s: no poll failed with %q: %+v", c.id, c.reason, polls)
		}
		for _, r := range h.samplesOf(c.id, start, end) {
			s := r.s
			if s.Source != wire.SourceNone || s.CPUUsagePercent != nil || s.MemoryTotalKB != nil || s.Network != nil || s.Disk != nil {
				t.Errorf("%s: figures passed on: %s", c.id, show(s))
			}
			if s.GuestAgent.Reachable || s.GuestAgent.LastError == "" {
				t.Errorf("%s: guest agent status %+v", c.id, s.GuestAgent)
			}
		}
	}
	checkOnTime(t, h, "healthy", start, end)
	s, ok := h.c.Latest("healthy")
	if !ok || s.Source != wire.SourceGuest || *s.CPUUsagePercent != 12.5 || *s.MemoryTotalKB != 2000 {
		t.Fatalf("healthy VM: %s", show(s))
	}
	if s.Network == nil || *s.Network != (wire.NetworkRates{RxBytesPerSec: 11, TxBytesPerSec: 22, Source: wire.RatesGuest}) {
		t.Errorf("guest network rates not summed: %+v", s.Network)
	}
	if s.Disk == nil || *s.Disk != (wire.DiskRates{ReadBytesPerSec: 300, WriteBytesPerSec: 400, Source: wire.RatesGuest}) {
		t.Errorf("guest disk rates: %+v", s.Disk)
	}
}

// checkOnTime asserts that vm got a fresh sample every interval in
// [start, end), give or take scheduling noise.
func checkOnTime(t *testing.T, h *harness, vm string, start, end time.Time) {
	t.Helper()
	got := h.samplesOf(vm, start, end)
	want := int(end.Sub(start) / h.interval)
	if len(got) < want-2 {
		t.Errorf("%s: %d samples in %v, want about %d", vm, len(got), end.Sub(start), want)
	}
	for i := 1; i < len(got); i++ {
		if gap := got[i].at.Sub(got[i-1].at); gap > h.interval+grace {
			t.Errorf("%s: %v between samples", vm, gap)
		}
	}
	for _, r := range got {
		if r.s.Source != wire.SourceGuest || r.s.Stale {
			t.Errorf("%s: sample %s", vm, show(r.s))
		}
	}
}

// TestBackoffSparesDeadAgents: a guest agent that keeps failing is asked
// less and less often, while its VM still gets a sample every interval.
func TestBackoffSparesDeadAgents(t *testing.T) {
	h := newHarness(t, testInterval, nil)
	dead := standIn(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	dead.ID = "dead"
	h.set(dead)
	start := time.Now()
	time.Sleep(20 * testInterval)
	// Failures at slots 0, 1, 3, 7, 15: five or so in twenty intervals,
	// against twenty without backoff.
	if n := len(h.pollsOf("dead", KindGuest)); n < 3 || n > 7 {
		t.Errorf("%d polls of a dead agent in 20 intervals, want about 5", n)
	}
	if n := len(h.samplesOf("dead", start, time.Now())); n < 16 {
		t.Errorf("%d samples in 20 intervals while backing off", n)
	}
}

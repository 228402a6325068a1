package export

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/testsupport/promparse"
)

func ptr[T any](v T) *T { return &v }

// twoVMs is one VM read through its guest agent and one on the host
// fallback, which has no memory total, percentage or disk figures.
func twoVMs() []Labeled {
	return []Labeled{
		{VMID: "vm-1", VMName: "web", Sample: wire.CombinedSample{
			VMID: "vm-1", TimestampMs: 1_700_000_000_500, Source: wire.SourceGuest,
			CPUUsagePercent: ptr(45.2), MemoryUsagePercent: ptr(62.5), MemoryUsedKB: ptr(uint64(512000)),
			MemoryTotalKB: ptr(uint64(819200)), MemoryAvailableKB: ptr(uint64(307200)), UptimeSeconds: ptr(uint64(12345)),
			Network:    &wire.NetworkRates{RxBytesPerSec: 1000, TxBytesPerSec: 2000, Source: wire.RatesFirecracker},
			Disk:       &wire.DiskRates{ReadBytesPerSec: 30, WriteBytesPerSec: 40, Source: wire.RatesGuest},
			GuestAgent: wire.GuestAgentStatus{Reachable: true, LastSuccessMs: 1_700_000_000_400},
		}},
		{VMID: "vm-2", VMName: `db "main"`, Sample: wire.CombinedSample{
			VMID: "vm-2", TimestampMs: 1_700_000_001_000, Source: wire.SourceHost,
			CPUUsagePercent: ptr(150.0), MemoryUsedKB: ptr(uint64(2048)), UptimeSeconds: ptr(uint64(60)),
			Network:    &wire.NetworkRates{RxBytesPerSec: 5, TxBytesPerSec: 6, Source: wire.RatesTap},
			GuestAgent: wire.GuestAgentStatus{LastError: "connection refused"},
			Stale:      true,
		}},
	}
}

// scrape serves one GET /metrics and parses the answer as Prometheus does.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	fams, err := promparse.Parse(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("parsing: %v\n%s", err, rec.Body)
	}
	return fams
}

// find returns the metric of the family whose labels include want; nil
// when there is none.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return math.NaN()
}

func TestVMMetrics(t *testing.T) {
	_, h := NewRegistry(twoVMs, nil, nil)
	fams := scrape(t, h)
	web := map[string]string{"vm_id": "vm-1", "vm_name": "web", "source": "guest"}
	db := map[string]string{"vm_id": "vm-2", "vm_name": `db "main"`, "source": "host"}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64 // NaN: must be absent
	}{
		{"fcmon_vm_cpu_usage_percent", web, 45.2},
		{"fcmon_vm_memory_usage_percent", web, 62.5},
		{"fcmon_vm_memory_used_bytes", web, 512000 * 1024},
		{"fcmon_vm_memory_total_bytes", web, 819200 * 1024},
		{"fcmon_vm_memory_available_bytes", web, 307200 * 1024},
		{"fcmon_vm_uptime_seconds", web, 12345},
		{"fcmon_vm_network_receive_bytes_per_second", with(web, "rates_source", "firecracker"), 1000},
		{"fcmon_vm_network_transmit_bytes_per_second", with(web, "rates_source", "firecracker"), 2000},
		{"fcmon_vm_disk_read_bytes_per_second", with(web, "rates_source", "guest"), 30},
		{"fcmon_vm_disk_written_bytes_per_second", with(web, "rates_source", "guest"), 40},
		{"fcmon_vm_stale", web, 0},
		{"fcmon_vm_guest_agent_reachable", web, 1},
		{"fcmon_vm_last_sample_timestamp_seconds", web, 1_700_000_000.5},
		{"fcmon_vm_guest_agent_last_success_timestamp_seconds", web, 1_700_000_000.4},

		{"fcmon_vm_cpu_usage_percent", db, 150},
		{"fcmon_vm_memory_used_bytes", db, 2048 * 1024},
		{"fcmon_vm_memory_total_bytes", db, math.NaN()},
		{"fcmon_vm_memory_usage_percent", db, math.NaN()},
		{"fcmon_vm_memory_available_bytes", db, math.NaN()},
		{"fcmon_vm_uptime_seconds", db, 60},
		{"fcmon_vm_network_receive_bytes_per_second", with(db, "rates_source", "tap"), 5},
		{"fcmon_vm_disk_read_bytes_per_second", db, math.NaN()},
		{"fcmon_vm_stale", db, 1},
		{"fcmon_vm_guest_agent_reachable", db, 0},
		{"fcmon_vm_guest_agent_last_success_timestamp_seconds", db, math.NaN()},
	} {
		m := find(fams, tc.name, tc.labels)
		switch {
		case math.IsNaN(tc.want) && m != nil:
			t.Errorf("%s%v = %v, want absent", tc.name, tc.labels, value(m))
		case !math.IsNaN(tc.want) && m == nil:
			t.Errorf("%s%v missing", tc.name, tc.labels)
		case m != nil && value(m) != tc.want:
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, value(m), tc.want)
		}
	}
	if n := len(fams["fcmon_vm_stale"].GetMetric()); n != 2 {
		t.Errorf("fcmon_vm_stale has %d series, want 2", n)
	}
	if fams["fcmon_websocket_subscribers"] != nil {
		t.Error("websocket metrics exported without hubStats")
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds", "fcmon_build_info"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}

func TestOwnMetrics(t *testing.T) {
	m, h := NewRegistry(func() []Labeled { return nil }, func() (int, uint64) { return 7, 2 }, nil)
	for _, r := range []collector.PollResult{
		{Kind: collector.KindGuest, Latency: 4 * time.Millisecond},
		{Kind: collector.KindGuest, Latency: 800 * time.Millisecond, Reason: agentclient.ReasonTimeout},
		{Kind: collector.KindProcess, Latency: time.Millisecond, Reason: agentclient.ReasonRefused},
		{Kind: collector.KindProcess, Latency: time.Millisecond, Reason: agentclient.ReasonRefused},
		{Kind: collector.KindStats, Latency: 20 * time.Millisecond},
	} {
		m.ObservePoll(r)
	}
	for range 3 {
		m.SampleProduced()
	}
	m.RollupsWritten(5)
	m.RollupsWritten(0)
	fams := scrape(t, h)

	for _, tc := range []struct {
		kind, reason string
		want         float64
	}{
		{"guest", "timeout", 1},
		{"process", "refused", 2},
		{"stats", "timeout", 0}, // known in advance, so present at zero
		{"attach", "bad_json", 0},
	} {
		got := find(fams, "fcmon_poll_failures_total", map[string]string{"kind": tc.kind, "reason": tc.reason})
		if got == nil || value(got) != tc.want {
			t.Errorf("fcmon_poll_failures_total{kind=%q,reason=%q}: %v, want %v", tc.kind, tc.reason, got, tc.want)
		}
	}

	guest := find(fams, "fcmon_poll_duration_seconds", map[string]string{"kind": "guest"}).GetHistogram()
	if guest.GetSampleCount() != 2 || math.Abs(guest.GetSampleSum()-0.804) > 1e-9 {
		t.Errorf("guest polls: count %d sum %v, want 2 and 0.804", guest.GetSampleCount(), guest.GetSampleSum())
	}
	for _, b := range guest.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.005 {
			want = 1
		}
		if b.GetUpperBound() >= 1 {
			want = 2
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("guest bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if attach := find(fams, "fcmon_poll_duration_seconds", map[string]string{"kind": "attach"}); attach == nil ||
		attach.GetHistogram().GetSampleCount() != 0 {
		t.Errorf("attach polls: %v, want present and empty", attach)
	}

	for name, want := range map[string]float64{
		"fcmon_samples_total":           3,
		"fcmon_rollups_written_total":   5,
		"fcmon_websocket_subscribers":   7,
		"fcmon_websocket_dropped_total": 2,
	} {
		if got := find(fams, name, nil); got == nil || value(got) != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// A VM whose name cannot be a label value costs its own series, not the
// scrape.
func TestBadLabelSkipsOnlyThatVM(t *testing.T) {
	vms := twoVMs()
	vms[1].VMName = "bad\xff"
	_, h := NewRegistry(func() []Labeled { return vms }, nil, nil)
	fams := scrape(t, h)
	if find(fams, "fcmon_vm_stale", map[string]string{"vm_id": "vm-1"}) == nil {
		t.Error("the good VM is missing")
	}
	if find(fams, "fcmon_vm_stale", map[string]string{"vm_id": "vm-2"}) != nil {
		t.Error("the VM with the bad name was exported")
	}
	if find(fams, "promhttp_metric_handler_errors_total", map[string]string{"cause": "gathering"}) == nil {
		t.Error("the error was not counted")
	}
}

// TestWithoutVMs: ?vms=false serves the manager's own figures alone.
func TestWithoutVMs(t *testing.T) {
	_, h := NewRegistry(twoVMs, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics?vms=false", nil))
	fams, err := promparse.Parse(rec.Body.Bytes())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %v", rec.Code, err)
	}
	if _, ok := fams["fcmon_vm_cpu_usage_percent"]; ok {
		t.Error("VM series with ?vms=false")
	}
	if _, ok := fams["fcmon_poll_duration_seconds"]; !ok {
		t.Error("no own figures with ?vms=false")
	}
	if _, ok := scrape(t, h)["fcmon_vm_cpu_usage_percent"]; !ok {
		t.Error("no VM series without the parameter")
	}
}

package collector

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func TestBadHostVMID(t *testing.T) {
	for id, want := range map[string]string{
		"vm-1": "", "6f1c2b1e-6c2a-4f3e-9d0b-3f6f0c1a7e21": "", "victim@1234": "", "ünïcode": "",
		"":                       "empty",
		"a\x00b":                 "control character U+0000",
		"a\u202eb":               "control character U+202E",
		"\xff":                   "not UTF-8",
		strings.Repeat("x", 257): "longer than 256",
	} {
		got := BadHostVMID(id)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("BadHostVMID(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestBadVMIDsSkipped: a host agent answering VMs with bad ids (empty, a
// NUL byte) has them left out and reported, and the rest registered and
// collected, every poll.
func TestBadVMIDsSkipped(t *testing.T) {
	doc := wire.HostSamples{Host: "fc-1", IntervalMs: 200, VMs: []wire.VMSample{
		{ID: ""}, {ID: "nul\x00id"}, {ID: "ok-1", Process: &wire.ProcessStats{PID: 1, CPUUsagePercent: 5}},
		{ID: "ok-2", Process: &wire.ProcessStats{PID: 2, CPUUsagePercent: 5}},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc.TimestampMs = time.Now().UnixMilli()
		json.NewEncoder(w).Encode(doc)
	}))
	defer srv.Close()
	hh := newHostHarness(t, 200*time.Millisecond)
	hh.mu.Lock()
	hh.hosts = []HostTarget{{ID: "h1", URL: srv.URL}}
	hh.mu.Unlock()
	for _, id := range []string{"ok-1", "ok-2"} {
		hh.waitSample(t, id, time.Now(), 5*time.Second, "a sample of a good VM beside bad ones", func(s wire.CombinedSample) bool { return true })
	}
	st, ok := hh.c.HostStatus("h1")
	if !ok || st.SkippedVMs != 2 || !strings.Contains(st.SkippedReason, "empty") || st.VMs != 4 {
		t.Errorf("host status %+v", st)
	}
	hh.mu.Lock()
	defer hh.mu.Unlock()
	for _, set := range hh.register {
		for _, v := range set {
			if BadHostVMID(v.HostVMID) != "" {
				t.Errorf("a bad id reached the registry: %q", v.HostVMID)
			}
		}
	}
}

// TestClashEvents: each id clash a host agent reports becomes one id_clash
// event on the VM that holds the id, however many polls list it.
func TestClashEvents(t *testing.T) {
	doc := wire.HostSamples{Host: "fc-1", IntervalMs: 200, VMs: []wire.VMSample{
		{ID: "victim", Process: &wire.ProcessStats{PID: 10}}, {ID: "victim@20", Discovered: true, Process: &wire.ProcessStats{PID: 20}},
	}, Clashes: []wire.IDClash{{ID: "victim", PID: 20, HolderPID: 10, RenamedTo: "victim@20", AtMs: 1_796_000_000_000}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc.TimestampMs = time.Now().UnixMilli()
		json.NewEncoder(w).Encode(doc)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var events []wire.Event
	hh := newHostHarness(t, 100*time.Millisecond, func(o *Options) {
		o.OnEvent = func(e wire.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	hh.mu.Lock()
	hh.hosts = []HostTarget{{ID: "h1", URL: srv.URL}}
	hh.mu.Unlock()
	hh.waitSample(t, "victim@20", time.Now(), 5*time.Second, "the renamed VM", func(wire.CombinedSample) bool { return true })
	time.Sleep(500 * time.Millisecond) // several more polls
	mu.Lock()
	defer mu.Unlock()
	var clashes []wire.Event
	for _, e := range events {
		if e.Type == wire.EventIDClash {
			clashes = append(clashes, e)
		}
	}
	if len(clashes) != 1 || clashes[0].VMID != "victim" || clashes[0].Detail["renamed_to"] != "victim@20" || clashes[0].Detail["pid"] != "20" {
		t.Errorf("id_clash events %+v", clashes)
	}
}

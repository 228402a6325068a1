package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// fakeHost is a Host of fixed VMs; it records what the API asked to change.
type fakeHost struct {
	vms      []*fakeVM
	attached []wire.VMConfig
	detached []string
}

type fakeVM struct {
	id, guest  string // guest: its Prometheus text; empty: none
	pid, vcpus int
	st         wire.VMStats
	discovered bool
}

func (h *fakeHost) VMs() []VM {
	out := make([]VM, len(h.vms))
	for i, v := range h.vms {
		out[i] = v
	}
	return out
}

func (h *fakeHost) VM(id string) (VM, bool) {
	for _, v := range h.vms {
		if v.id == id {
			return v, true
		}
	}
	return nil, false
}

func (h *fakeHost) Attach(cfg wire.VMConfig) (wire.VMInfo, bool, error) {
	if cfg.ID == "full" {
		return wire.VMInfo{}, false, httpapi.Errorf(http.StatusConflict, "cannot attach more than 2 VMs")
	}
	h.attached = append(h.attached, cfg)
	_, exists := h.VM(cfg.ID)
	return wire.VMInfo{VMConfig: cfg}, !exists, nil
}

func (h *fakeHost) Detach(id string) (bool, error) {
	v, ok := h.VM(id)
	if !ok {
		return false, nil
	}
	if v.(*fakeVM).discovered {
		return true, ErrDiscovered
	}
	h.detached = append(h.detached, id)
	return true, nil
}

func (h *fakeHost) ProcessStats(pid int) (wire.ProcessStats, error) {
	if pid != 42 {
		return wire.ProcessStats{}, fmt.Errorf("process %d: %w", pid, ErrNoProcess)
	}
	return wire.ProcessStats{PID: 42, Threads: 3}, nil
}

func (h *fakeHost) Samples(now time.Time) wire.HostSamples {
	out := wire.HostSamples{Host: "h1", TimestampMs: now.UnixMilli(), IntervalMs: 1000}
	for _, v := range h.vms {
		out.VMs = append(out.VMs, wire.VMSample{ID: v.id, Process: v.st.Process, Labels: v.st.Labels})
	}
	return out
}

func (h *fakeHost) Clashes() uint64 { return 2 }

func (v *fakeVM) ID() string { return v.id }
func (v *fakeVM) PID() int   { return v.pid }
func (v *fakeVM) Info() wire.VMInfo {
	return wire.VMInfo{VMConfig: wire.VMConfig{ID: v.id, PID: v.pid}, Discovered: v.discovered}
}
func (v *fakeVM) Stats() wire.VMStats            { return v.st }
func (v *fakeVM) VCPUs(p *wire.ProcessStats) int { return v.vcpus }
func (v *fakeVM) GuestProm(context.Context) ([]byte, error) {
	if v.guest == "" {
		return nil, errors.New("no guest agent")
	}
	return []byte(v.guest), nil
}

func newServer(t *testing.T, h Host, token string) *httptest.Server {
	t.Helper()
	hosts, err := netpolicy.NewHosts("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(Options{Host: h, Token: token, Hosts: hosts, Interval: time.Second,
		Log: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, body, token string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func twoVMs() *fakeHost {
	return &fakeHost{vms: []*fakeVM{
		{id: "vm-a", pid: 42, vcpus: 2, guest: "# TYPE node_load1 gauge\nnode_load1 0.5\n",
			st: wire.VMStats{ID: "vm-a", Process: &wire.ProcessStats{PID: 42, CPUSecondsTotal: 7, MemoryRSSKB: 4}, Labels: map[string]string{"team": "blue"}}},
		{id: "vm-b", discovered: true, st: wire.VMStats{ID: "vm-b"}},
	}}
}

// TestHandlerAnswersFromTheHost: every endpoint answers from the Host
// alone, with the statuses and messages operators read.
func TestHandlerAnswersFromTheHost(t *testing.T) {
	h := twoVMs()
	srv := newServer(t, h, "")
	for _, tt := range []struct {
		method, path, body string
		status             int
		has                string
	}{
		{"GET", "/health", "", 200, "OK"},
		{"GET", "/v1/vms", "", 200, `"id":"vm-b"`},
		{"GET", "/v1/vms/vm-a", "", 200, `"pid":42`},
		{"GET", "/v1/vms/nope", "", 404, `no VM \"nope\" is attached`},
		{"GET", "/v1/vms/vm-a/stats", "", 200, `"cpu_seconds_total":7`},
		{"DELETE", "/v1/vms/vm-b", "", 409, "was discovered, not attached"},
		{"DELETE", "/v1/vms/nope", "", 404, "is attached"},
		{"DELETE", "/v1/vms/vm-a", "", 204, ""},
		{"POST", "/v1/vms", `{"id":"new"}`, 201, `"id":"new"`},
		{"POST", "/v1/vms", `{"id":"vm-a"}`, 200, `"id":"vm-a"`},
		{"POST", "/v1/vms", `{"id":"full"}`, 409, "cannot attach more than 2 VMs"},
		{"POST", "/v1/vms", `{"id":`, 400, "error"},
		{"GET", "/metrics/process-stats?pid=42", "", 200, `"threads":3`},
		{"GET", "/metrics/process-stats?pid=7", "", 404, "no such process"},
		{"GET", "/metrics/process-stats?pid=%2B7", "", 400, "is not a process id"},
		{"GET", "/metrics/process-stats?pid=4194305", "", 400, "is not a process id"},
		{"PUT", "/v1/vms/vm-a", "", 405, "error"},
		{"GET", "/nope", "", 404, "no endpoint /nope"},
	} {
		status, body, hdr := call(t, srv, tt.method, tt.path, tt.body, "")
		if status != tt.status || !strings.Contains(body, tt.has) {
			t.Errorf("%s %s: %d %s, want %d with %q", tt.method, tt.path, status, body, tt.status, tt.has)
		}
		if status >= 400 && !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: error as %q, want JSON", tt.method, tt.path, hdr.Get("Content-Type"))
		}
	}
	if len(h.detached) != 1 || h.detached[0] != "vm-a" || len(h.attached) != 2 {
		t.Errorf("changes reached the host as detached %v, attached %v", h.detached, h.attached)
	}
	if _, _, hdr := call(t, srv, "POST", "/v1/vms", `{"id":"other"}`, ""); hdr.Get("Location") != "/v1/vms/other" {
		t.Errorf("Location %q", hdr.Get("Location"))
	}
}

// TestHandlerToken: with a token every endpoint but /health needs it.
func TestHandlerToken(t *testing.T) {
	srv := newServer(t, twoVMs(), "s3cret")
	for _, path := range []string{"/v1/vms", "/v1/samples", "/metrics", "/metrics/process-stats?pid=42"} {
		if status, _, _ := call(t, srv, "GET", path, "", ""); status != 401 {
			t.Errorf("GET %s without token: %d", path, status)
		}
		if status, _, _ := call(t, srv, "GET", path, "", "s3cret"); status != 200 {
			t.Errorf("GET %s with token: %d", path, status)
		}
	}
	if status, _, _ := call(t, srv, "GET", "/health", "", ""); status != 200 {
		t.Errorf("/health needs no token: %d", status)
	}
}

// TestHandlerSamples: JSON by default, the dense encoding when asked for,
// the same document either way.
func TestHandlerSamples(t *testing.T) {
	srv := newServer(t, twoVMs(), "")
	_, body, _ := call(t, srv, "GET", "/v1/samples", "", "")
	var doc wire.HostSamples
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.VMs) != 2 || doc.Host != "h1" {
		t.Fatalf("JSON samples %v: %s", err, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/samples", nil)
	req.Header.Set("Accept", samplepb.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var dense samplepb.HostSamples
	if resp.Header.Get("Content-Type") != samplepb.MediaType || resp.Header.Get("Vary") != "Accept" {
		t.Fatalf("dense answer headers %v", resp.Header)
	}
	if err := new(samplepb.Decoder).Decode(b, &dense); err != nil || len(dense.VMs) != 2 || dense.VMs[0].ID != "vm-a" {
		t.Errorf("dense samples %v: %+v", err, dense)
	}
}

// TestHandlerMetrics: /metrics carries each VM's figures labelled vm_id,
// the info series with the launcher's labels, and the guests' series
// with vm_id added; a VM without a guest agent adds none.
func TestHandlerMetrics(t *testing.T) {
	srv := newServer(t, twoVMs(), "")
	_, body, _ := call(t, srv, "GET", "/metrics", "", "")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, want map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.Metric {
			got := map[string]string{}
			for _, l := range m.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Untyped != nil:
				return m.Untyped.GetValue(), true
			}
		}
		return 0, false
	}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"host_agent_vms_attached", nil, 2},
		{"host_agent_id_clashes_total", nil, 2},
		{"host_agent_cpu_seconds_total", map[string]string{"vm_id": "vm-a"}, 7},
		{"host_agent_memory_rss_bytes", map[string]string{"vm_id": "vm-a"}, 4096},
		{"host_agent_vcpus", map[string]string{"vm_id": "vm-a"}, 2},
		{"fcmon_vm_info", map[string]string{"vm_id": "vm-a", "vm_name": "vm-a", "team": "blue"}, 1},
		{"fcmon_vm_info", map[string]string{"vm_id": "vm-b", "team": ""}, 1},
		{"node_load1", map[string]string{"vm_id": "vm-a"}, 0.5},
	} {
		if v, ok := value(tt.name, tt.labels); !ok || v != tt.want {
			t.Errorf("%s%v = %v (%v), want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	if _, ok := value("host_agent_process_up", map[string]string{"vm_id": "vm-b"}); ok {
		t.Error("a VM with no pid exports host_agent_process_up")
	}
	if n := len(fams["node_load1"].GetMetric()); n != 1 {
		t.Errorf("node_load1 has %d series, want 1 (vm-b has no guest agent)", n)
	}
}

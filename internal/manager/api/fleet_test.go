package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// fleetEnv registers 30 VMs by hand, vm-00 … vm-29, and two a host agent
// reports, fc-a (live) and fc-b (gone). vm-i has CPU 3·i %, memory
// 100-3·i %; even ones have network rates; every fifth is stale; vm-25 to
// vm-29 have no sample yet; vm-07 and vm-08 are on the host fallback for
// CPU, vm-09 on the balloon for memory.
const hostID = "6f1c2b6e-7a1d-4c4e-9a51-2b1e0c8d9f01"

func fleetEnv(t testing.TB) (*env, map[string]string) {
	t.Helper()
	e := newEnv(t, nil)
	ids := map[string]string{}
	for i := range 30 {
		name := fmt.Sprintf("vm-%02d", i)
		vm := e.create(t, fmt.Sprintf(`{"name":%q,"guest_ip":"10.1.0.%d"}`, name, i+1))
		ids[name] = vm.ID
		if i >= 25 {
			continue
		}
		cpu, mem := float64(3*i), float64(100-3*i)
		s := wire.CombinedSample{VMID: vm.ID, TimestampMs: testNow.UnixMilli(), Source: wire.SourceGuest,
			MemorySource: wire.SourceGuest, CPUUsagePercent: &cpu, MemoryUsagePercent: &mem, Stale: i%5 == 0}
		if i%2 == 0 {
			s.Network = &wire.NetworkRates{RxBytesPerSec: float64(1000 * i), TxBytesPerSec: 1, Source: wire.RatesGuest}
		}
		switch i {
		case 7, 8:
			s.Source = wire.SourceHost
		case 9:
			s.MemorySource = wire.SourceBalloon
		}
		e.samples.m[vm.ID] = s
	}
	ctx := context.Background()
	h, err := e.st.CreateHost(ctx, store.Host{ID: hostID, URL: "http://10.0.0.9:9091"})
	if err != nil {
		t.Fatal(err)
	}
	made, err := e.st.CreateVMs(ctx, []store.VM{
		{ID: "fc-a-id", Name: "fc-a", HostID: h.ID, HostVMID: "fc-a"},
		{ID: "fc-b-id", Name: "fc-b", HostID: h.ID, HostVMID: "fc-b"},
	})
	if err != nil || len(made) != 2 {
		t.Fatal(made, err)
	}
	if err := e.st.SetVMsGone(ctx, []string{"fc-b-id"}, testNow.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	cpu := 99.0
	e.samples.m["fc-a-id"] = wire.CombinedSample{VMID: "fc-a-id", TimestampMs: testNow.UnixMilli(),
		Source: wire.SourceVCPU, MemorySource: wire.SourceBalloon, CPUUsagePercent: &cpu}
	ids["fc-a"], ids["fc-b"] = "fc-a-id", "fc-b-id"
	return e, ids
}

func (e *env) page(t *testing.T, query string) wire.VMPage {
	t.Helper()
	w := e.do(t, request{method: "GET", path: "/v1/vms?" + query})
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/vms?%s: %d %s", query, w.Code, w.Body)
	}
	var p wire.VMPage
	decode(t, w, &p)
	return p
}

func names(p wire.VMPage) []string {
	out := make([]string, len(p.VMs))
	for i, v := range p.VMs {
		out[i] = v.Name
	}
	return out
}

func TestVMPageSearchFilterSortPage(t *testing.T) {
	e, ids := fleetEnv(t)
	cases := []struct {
		query string
		total int
		want  []string
	}{
		{"limit=3", 32, []string{"fc-a", "fc-b", "vm-00"}},
		{"limit=3&offset=30", 32, []string{"vm-28", "vm-29"}},
		{"offset=40", 32, []string{}},
		{"sort=name&order=desc&limit=2", 32, []string{"vm-29", "vm-28"}},
		// CPU: highest first, VMs without a figure (no sample, gone) last.
		{"sort=cpu&limit=4", 32, []string{"fc-a", "vm-24", "vm-23", "vm-22"}},
		{"sort=cpu&order=asc&limit=2", 32, []string{"vm-00", "vm-01"}},
		{"sort=cpu&order=asc&offset=25", 32, []string{"fc-a", "fc-b", "vm-25", "vm-26", "vm-27", "vm-28", "vm-29"}},
		{"sort=memory&limit=2", 32, []string{"vm-00", "vm-01"}},
		{"sort=net&limit=2", 32, []string{"vm-24", "vm-22"}},
		{"q=VM-1", 10, []string{"vm-10", "vm-11", "vm-12", "vm-13", "vm-14", "vm-15", "vm-16", "vm-17", "vm-18", "vm-19"}},
		{"q=10.1.0.25", 1, []string{"vm-24"}},
		{"q=" + ids["vm-03"][:12], 1, []string{"vm-03"}},
		{"state=stale", 5, []string{"vm-00", "vm-05", "vm-10", "vm-15", "vm-20"}},
		{"state=pending", 5, []string{"vm-25", "vm-26", "vm-27", "vm-28", "vm-29"}},
		{"state=gone", 1, []string{"fc-b"}},
		{"source=host", 2, []string{"vm-07", "vm-08"}},
		{"source=balloon", 2, []string{"fc-a", "vm-09"}},
		{"source=vcpu&state=live", 1, []string{"fc-a"}},
		{"host=" + hostID, 2, []string{"fc-a", "fc-b"}},
		{"q=vm-2&state=live&sort=cpu", 4, []string{"vm-24", "vm-23", "vm-22", "vm-21"}},
	}
	for _, c := range cases {
		p := e.page(t, c.query)
		if p.Total != c.total || !slices.Equal(names(p), c.want) {
			t.Errorf("?%s: total %d %v, want %d %v", c.query, p.Total, names(p), c.total, c.want)
		}
	}
	p := e.page(t, "q=vm-24")
	if len(p.VMs) != 1 || p.VMs[0].State != wire.StateLive || p.VMs[0].Latest == nil ||
		*p.VMs[0].Latest.CPUUsagePercent != 72 || p.VMs[0].Source != wire.SourceGuest || p.Limit != 100 {
		t.Errorf("a row: %+v (limit %d), want vm-24 live with its latest sample", p.VMs, p.Limit)
	}
	if p := e.page(t, "q=vm-25"); p.VMs[0].State != wire.StatePending || p.VMs[0].Latest != nil {
		t.Errorf("a VM without samples: %+v", p.VMs[0])
	}
	// Without parameters, the answer is still the whole list, as before.
	w := e.do(t, request{method: "GET", path: "/v1/vms"})
	var all []wire.VM
	if decode(t, w, &all); len(all) != 32 {
		t.Errorf("GET /v1/vms: %d VMs, want all 32", len(all))
	}
}

func TestVMPageRefusesBadQueries(t *testing.T) {
	e, _ := fleetEnv(t)
	for query, want := range map[string]string{
		"sort=colour":                   "sort \"colour\" is not a column",
		"order=up":                      "order \"up\" is neither asc nor desc",
		"limit=0":                       "limit \"0\" is not a whole number from 1 to 1000",
		"limit=1001":                    "from 1 to 1000",
		"offset=-1":                     "offset \"-1\" is not a whole number",
		"state=dead":                    "state \"dead\" is not a state",
		"source=cloud":                  "source \"cloud\" is not a source",
		"size=3":                        "unknown parameter \"size\"",
		"q=a&q=b":                       "q is given 2 times",
		"host=" + "x%00y":               "host",
		"q=" + strings.Repeat("a", 300): "q is 300 bytes long",
	} {
		w := e.do(t, request{method: "GET", path: "/v1/vms?" + query})
		if msg := errorOf(t, w); w.Code != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("?%s: %d %q, want 400 saying %q", query, w.Code, msg, want)
		}
	}
}

func TestFleet(t *testing.T) {
	e, ids := fleetEnv(t)
	w := e.do(t, request{method: "GET", path: "/v1/fleet"})
	var f wire.Fleet
	if decode(t, w, &f); w.Code != http.StatusOK {
		t.Fatalf("GET /v1/fleet: %d %s", w.Code, w.Body)
	}
	wantState := map[string]int{"live": 21, "stale": 5, "pending": 5, "gone": 1}
	wantSource := map[string]int{"guest": 23, "vcpu": 1, "host": 2, "none": 6}
	wantMemory := map[string]int{"guest": 24, "balloon": 2, "host": 0, "none": 6}
	if f.VMs != 32 || !mapsEqual(f.ByState, wantState) || !mapsEqual(f.BySource, wantSource) || !mapsEqual(f.ByMemorySource, wantMemory) {
		t.Errorf("counts: %d %v %v %v", f.VMs, f.ByState, f.BySource, f.ByMemorySource)
	}
	if f.Direct != 30 || f.HostsTotal != 1 || len(f.Hosts) != 1 || f.Hosts[0].VMs != 1 || f.Hosts[0].Live != 1 {
		t.Errorf("hosts: direct %d, %d %+v", f.Direct, f.HostsTotal, f.Hosts)
	}
	// Top lists hold live VMs only (the stale vm-20 is not among them).
	top := func(l []wire.FleetVM) []string {
		var out []string
		for _, v := range l {
			out = append(out, v.Name)
		}
		return out
	}
	if got := top(f.Top.CPU); len(got) != wire.FleetTopN || !slices.Equal(got[:4], []string{"fc-a", "vm-24", "vm-23", "vm-22"}) ||
		f.Top.CPU[0].Value != 99 || f.Top.CPU[0].Source != wire.SourceVCPU || f.Top.CPU[0].ID != ids["fc-a"] {
		t.Errorf("top CPU %v %+v", got, f.Top.CPU[0])
	}
	if got := top(f.Top.Network); !slices.Equal(got[:3], []string{"vm-24", "vm-22", "vm-18"}) || f.Top.Network[0].Value != 24001 {
		t.Errorf("top network %v %+v", got, f.Top.Network)
	}
	if got := top(f.Top.Memory); got[0] != "vm-01" || len(f.Top.Disk) != 0 {
		t.Errorf("top memory %v, disk %v", got, f.Top.Disk)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/fleet?x=1"}); w.Code != http.StatusBadRequest {
		t.Errorf("GET /v1/fleet?x=1: %d", w.Code)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// FuzzVMPageQuery: any query string gets a 200 or a 400.
func FuzzVMPageQuery(f *testing.F) {
	for _, s := range []string{"sort=cpu&order=asc", "q=%ff", "limit=1&offset=99999999999", "state=live&source=none&host=h"} {
		f.Add(s)
	}
	e, _ := fleetEnv(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		w := e.do(t, request{method: "GET", path: "/v1/vms?" + q.Encode()})
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("?%s: %d %s", raw, w.Code, w.Body)
		}
	})
}

// BenchmarkVMPage100k: one page of GET /v1/vms and GET /v1/fleet over
// 100,000 VMs with samples (the registry from the cache, as the manager
// serves them).
func BenchmarkVMPage100k(b *testing.B) {
	const n = 100_000
	vms := make([]store.VM, n)
	samples := &fakeSamples{m: make(map[string]wire.CombinedSample, n)}
	for i := range vms {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		vms[i] = store.VM{ID: id, Name: fmt.Sprintf("vm-%d", i), HostID: hostID, HostVMID: fmt.Sprintf("vm-%d", i)}
		cpu, mem := float64(i%10000)/100, float64(i%97)
		src := wire.SourceGuest
		if i%10 == 3 {
			src = wire.SourceVCPU
		}
		samples.m[id] = wire.CombinedSample{VMID: id, TimestampMs: 1, Source: src, MemorySource: wire.SourceGuest,
			CPUUsagePercent: &cpu, MemoryUsagePercent: &mem, Network: &wire.NetworkRates{RxBytesPerSec: cpu * 1000}}
	}
	// In the registry's order, as the cache keeps it.
	slices.SortFunc(vms, func(x, y store.VM) int { return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID)) })
	e := newEnv(b, func(o *Options) { o.Cache = fakeCache{vms}; o.Samples = samples })
	for _, q := range []string{"/v1/vms?limit=50", "/v1/vms?source=vcpu&sort=cpu&offset=50&limit=50", "/v1/vms?q=vm-123&limit=50", "/v1/fleet"} {
		b.Run(strings.TrimPrefix(q, "/v1/"), func(b *testing.B) {
			for b.Loop() {
				if w := e.do(b, request{method: "GET", path: q}); w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body)
				}
			}
		})
	}
}

func TestPrometheusSD(t *testing.T) {
	e, ids := fleetEnv(t)
	w := e.do(t, request{method: "GET", path: "/v1/prometheus/sd"})
	var groups []wire.SDTargetGroup
	if decode(t, w, &groups); w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// The host agent, then the 30 VMs polled directly (fc-a and fc-b are
	// read through the host agent).
	if len(groups) != 31 {
		t.Fatalf("%d target groups, want 31: %+v", len(groups), groups)
	}
	h := groups[0]
	if !slices.Equal(h.Targets, []string{"10.0.0.9:9091"}) || h.Labels["host"] != hostID || h.Labels["__scheme__"] != "http" ||
		h.Labels["fcmon_role"] != "host_agent" || h.Labels["vm_id"] != "" {
		t.Errorf("host agent target %+v", h)
	}
	g := groups[1]
	if !slices.Equal(g.Targets, []string{"10.1.0.1:8080"}) || g.Labels["vm_id"] != ids["vm-00"] || g.Labels["vm_name"] != "vm-00" ||
		g.Labels["fcmon_role"] != "guest_agent" {
		t.Errorf("guest target %+v", g)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/prometheus/sd?x=1"}); w.Code != http.StatusBadRequest {
		t.Errorf("with a parameter: %d", w.Code)
	}
}

// TestFleetAcrossManagers: two managers over one registry, each answering
// for half the VMs and asking the other for the rest, give every page and
// the fleet summary exactly as one manager answering for all does; a
// manager that does not answer is named, and a peer's request is
// answered with the asked manager's part only.
func TestFleetAcrossManagers(t *testing.T) {
	solo, _ := fleetEnv(t)
	mine := func(first bool) func(vm *store.VM) bool {
		return func(vm *store.VM) bool { return (len(vm.ID)+int(vm.ID[len(vm.ID)-1]))%2 == 0 == first }
	}
	var a, b http.Handler
	ask := func(other *http.Handler, name string, down *bool) func(context.Context, string) ([][]byte, []string) {
		return func(ctx context.Context, path string) ([][]byte, []string) {
			if *down {
				return nil, []string{name}
			}
			r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
			r.Host = "127.0.0.1:8080"
			r.Header.Set(PeerHeader, "test")
			w := httptest.NewRecorder()
			(*other).ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Errorf("peer GET %s: %d %s", path, w.Code, w.Body)
				return nil, []string{name}
			}
			return [][]byte{w.Body.Bytes()}, nil
		}
	}
	bDown := false
	never := false
	manager := func(first bool, other *http.Handler, name string, down *bool) http.Handler {
		return New(Options{Store: solo.st, Samples: solo.samples, Streams: fakeStreams{}, Now: func() time.Time { return testNow },
			Cluster: fakeCluster{owns: mine(first), ask: ask(other, name, down), verify: func(v string) bool { return v == "test" }}}).Handler()
	}
	a = manager(true, &b, "b", &bDown)
	b = manager(false, &a, "a", &never)
	get := func(h http.Handler, path string, peer bool) string {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		r.Host = "127.0.0.1:8080"
		if peer {
			r.Header.Set(PeerHeader, "test")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	for _, q := range []string{"limit=1000", "sort=cpu", "sort=cpu&order=asc&limit=7&offset=3", "sort=memory&limit=5&offset=20",
		"sort=net", "sort=age&limit=4", "state=stale", "source=host", "q=vm-1&sort=name&order=desc", "host=" + hostID, "limit=3&offset=29"} {
		want := get(solo.h, "/v1/vms?"+q, false)
		for name, h := range map[string]http.Handler{"a": a, "b": b} {
			if got := get(h, "/v1/vms?"+q, false); got != want {
				t.Errorf("manager %s, GET /v1/vms?%s:\n got %s\nwant %s", name, q, got, want)
			}
		}
	}
	want := get(solo.h, "/v1/fleet", false)
	if got := get(a, "/v1/fleet", false); got != want {
		t.Errorf("fleet across managers:\n got %s\nwant %s", got, want)
	}
	// Asked as a peer, a manager answers for its own VMs only.
	var pa, pb wire.VMPage
	json.Unmarshal([]byte(get(a, "/v1/vms?limit=1000", true)), &pa)
	json.Unmarshal([]byte(get(b, "/v1/vms?limit=1000", true)), &pb)
	if pa.Total == 0 || pb.Total == 0 || pa.Total+pb.Total != 32 {
		t.Errorf("the managers' parts: %d + %d VMs, want 32 in all, split", pa.Total, pb.Total)
	}
	// The legacy list: every VM, with the status its collector tells.
	if got, want := get(a, "/v1/vms", false), get(solo.h, "/v1/vms", false); got != want {
		t.Errorf("legacy list across managers:\n got %s\nwant %s", got, want)
	}
	// b does not answer: a says so, and gives its own part.
	bDown = true
	var f wire.Fleet
	json.Unmarshal([]byte(get(a, "/v1/fleet", false)), &f)
	if len(f.MissingManagers) != 1 || f.MissingManagers[0] != "b" || f.VMs != pa.Total {
		t.Errorf("with b down: %d VMs, missing %v; want a's %d and b named", f.VMs, f.MissingManagers, pa.Total)
	}
	var p wire.VMPage
	json.Unmarshal([]byte(get(a, "/v1/vms?sort=cpu", false)), &p)
	if p.Total != pa.Total || len(p.MissingManagers) != 1 {
		t.Errorf("page with b down: total %d, missing %v", p.Total, p.MissingManagers)
	}
	// Deep pages are refused with a reason, across managers.
	r := httptest.NewRequest("GET", "/v1/vms?offset=9950&limit=100", nil)
	r.Host = "127.0.0.1:8080"
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "narrow") {
		t.Errorf("a page past the cluster's window: %d %s", w.Code, w.Body)
	}
}

// GET /v1/cluster/latest: the latest samples of the listed VMs this
// manager has; bad lists are refused with the reason.
func TestClusterLatest(t *testing.T) {
	e, ids := fleetEnv(t)
	var got []wire.CombinedSample
	w := e.do(t, request{method: "GET", path: "/v1/cluster/latest?ids=" + ids["vm-03"] + "," + ids["vm-27"] + "," + ids["vm-11"]})
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	decode(t, w, &got)
	if len(got) != 2 || got[0].VMID != ids["vm-03"] || got[1].VMID != ids["vm-11"] {
		t.Errorf("latest of vm-03, vm-27 (no sample), vm-11: %+v", got)
	}
	many := strings.Repeat("a,", wire.MaxWatch) + "a"
	for _, q := range []string{"", "?ids=", "?ids=a&ids=b", "?vm=a", "?ids=" + many, "?ids=a,,b", "?ids=" + strings.Repeat("x", 200)} {
		w := e.do(t, request{method: "GET", path: "/v1/cluster/latest" + q})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("GET /v1/cluster/latest%.40s: %d %s", q, w.Code, w.Body)
		}
	}
}

// TestPeerHeaderVerified: an API client that sets X-Fcmon-Peer itself is
// refused, not answered as a peer (deeper pages, this manager's part only).
func TestPeerHeaderVerified(t *testing.T) {
	solo, _ := fleetEnv(t)
	h := New(Options{Store: solo.st, Samples: solo.samples, Streams: fakeStreams{}, Now: func() time.Time { return testNow },
		Cluster: fakeCluster{owns: func(*store.VM) bool { return true }, ask: func(context.Context, string) ([][]byte, []string) { return nil, nil },
			verify: func(v string) bool { return v == "signed" }}}).Handler()
	for _, tc := range []struct {
		values []string
		want   int
	}{{nil, 200}, {[]string{"signed"}, 200}, {[]string{"forged"}, 403}, {[]string{""}, 403}, {[]string{"signed", "signed"}, 403}} {
		r := httptest.NewRequest("GET", "/v1/vms?limit=5", nil)
		r.Host = "127.0.0.1:8080"
		for _, v := range tc.values {
			r.Header.Add(PeerHeader, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want || (tc.want == 403 && !strings.Contains(w.Body.String(), "does not verify")) {
			t.Errorf("%s %q: %d %s, want %d", PeerHeader, tc.values, w.Code, w.Body, tc.want)
		}
	}
	// Without a way to verify (a manager alone with SQLite), every one is refused.
	alone := New(Options{Store: solo.st, Samples: solo.samples, Streams: fakeStreams{}}).Handler()
	r := httptest.NewRequest("GET", "/v1/vms", nil)
	r.Host = "127.0.0.1:8080"
	r.Header.Set(PeerHeader, "anything")
	w := httptest.NewRecorder()
	alone.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("alone: %d", w.Code)
	}
}

// fakeCluster is managers sharing a database, as a test makes them.
type fakeCluster struct {
	owns   func(*store.VM) bool
	ask    func(context.Context, string) ([][]byte, []string)
	verify func(string) bool
}

func (f fakeCluster) View() wire.Cluster                                  { return wire.Cluster{} }
func (f fakeCluster) Shared() bool                                        { return true }
func (f fakeCluster) Owns(vm *store.VM) bool                              { return f.owns(vm) }
func (f fakeCluster) VerifyPeer(h string) bool                            { return f.verify(h) }
func (f fakeCluster) Peer(context.Context, string, string) ([]byte, bool) { return nil, false }
func (f fakeCluster) AskOthers(ctx context.Context, path string) ([][]byte, []string) {
	return f.ask(ctx, path)
}

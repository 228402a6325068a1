package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// TestVMLifecycle: register (with and without id), read, list with
// status, set the guest address, delete with its live state.
func TestVMLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	upper := strings.ToUpper(goodID)
	a := e.create(t, `{"id":"`+upper+`","name":"web 1","guest_ip":"::ffff:192.168.1.100","vmm_pid":42,"metrics_fifo":"/run/fc/m.fifo","api_socket":"/run/fc/api.sock"}`)
	if a.ID != goodID || a.GuestIP != "192.168.1.100" || a.GuestPort != 8080 || a.VMMPID != 42 ||
		a.Source != wire.SourceNone || !a.Stale || a.CreatedMs == 0 || a.HostAgent != nil {
		t.Errorf("created %+v", a)
	}
	b := e.create(t, `{"name":"db","guest_port":9100}`)
	if _, ok := store.ParseUUID(b.ID); !ok || b.ID[14] != '4' || b.GuestPort != 9100 {
		t.Errorf("generated id %q (want a version 4 UUID), port %d", b.ID, b.GuestPort)
	}
	w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"id":"` + goodID + `","name":"again"}`})
	if w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), "already exists") {
		t.Errorf("duplicate id: %d %s", w.Code, w.Body)
	}

	e.samples.m[a.ID] = wire.CombinedSample{VMID: a.ID, TimestampMs: 1234, Source: wire.SourceGuest,
		GuestAgent: wire.GuestAgentStatus{Reachable: true, LastSuccessMs: 1234}}
	var list []wire.VM
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms"}), &list)
	if len(list) != 2 || list[0].Name != "db" || list[1].Source != wire.SourceGuest ||
		list[1].LastSampleMs != 1234 || list[1].Stale || !list[1].GuestAgent.Reachable {
		t.Errorf("list %+v", list)
	}

	w = e.do(t, request{method: "POST", path: "/v1/vms/" + upper + "/guest-ip", body: `{"guest_ip":"10.1.2.3","guest_port":8081}`})
	var moved wire.VM
	decode(t, w, &moved)
	if w.Code != http.StatusOK || moved.GuestIP != "10.1.2.3" || moved.GuestPort != 8081 || moved.Name != "web 1" {
		t.Errorf("guest-ip: %d %+v", w.Code, moved)
	}
	w = e.do(t, request{method: "POST", path: "/v1/vms/" + a.ID + "/guest-ip", body: `{"guest_ip":"10.1.2.4"}`})
	decode(t, w, &moved)
	if moved.GuestPort != 8081 {
		t.Errorf("guest-ip without port changed the port to %d", moved.GuestPort)
	}

	if w := e.do(t, request{method: "DELETE", path: "/v1/vms/" + a.ID}); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if len(e.forgot) != 1 || e.forgot[0] != a.ID {
		t.Errorf("forgotten %v, want [%s]", e.forgot, a.ID)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/vms/" + a.ID}); w.Code != http.StatusNotFound {
		t.Errorf("deleted VM: %d", w.Code)
	}
}

// TestLatestAndHistory: the latest sample, the placeholder before the
// first poll, and the history parameters passed through.
func TestLatestAndHistory(t *testing.T) {
	e := newEnv(t, nil)
	vm := e.create(t, `{"name":"a"}`)
	var s wire.CombinedSample
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID + "/metrics"}), &s)
	if s.VMID != vm.ID || s.Source != wire.SourceNone || !s.Stale || s.TimestampMs != testNow.UnixMilli() || s.CPUUsagePercent != nil {
		t.Errorf("placeholder %+v", s)
	}
	cpu := 12.5
	e.samples.m[vm.ID] = wire.CombinedSample{VMID: vm.ID, TimestampMs: 99, Source: wire.SourceHost, CPUUsagePercent: &cpu}
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID + "/metrics"}), &s)
	if s.Source != wire.SourceHost || s.CPUUsagePercent == nil || *s.CPUUsagePercent != cpu {
		t.Errorf("latest %+v", s)
	}
	var h wire.History
	now := testNow.UnixMilli()
	decode(t, e.do(t, request{method: "GET", path: fmt.Sprintf("/v1/vms/%s/metrics/history?since=%d&until=%d&step=60000", vm.ID, now-1000, now)}), &h)
	if h.VMID != vm.ID || h.SinceMs != now-1000 || h.UntilMs != now || h.StepMs != 60000 || h.Points == nil {
		t.Errorf("history %+v", h)
	}
	e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID + "/metrics/history"})
	if last := e.hist.calls[len(e.hist.calls)-1]; last != [3]int64{} {
		t.Errorf("absent parameters reached the history as %v, want zeros", last)
	}
}

// TestOpenEndpoints: /, /healthz (also when the database is gone), streams
// and /metrics reach their handlers.
func TestOpenEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(t, request{method: "GET", path: "/"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<title>fcmon") || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("index: %d %q", w.Code, w.Header())
	}
	if w := e.do(t, request{method: "GET", path: "/healthz"}); w.Code != 200 || w.Body.String() != "OK" {
		t.Errorf("healthz: %d %q", w.Code, w.Body)
	}
	if w := e.do(t, request{method: "HEAD", path: "/healthz"}); w.Code != 200 {
		t.Errorf("HEAD healthz: %d", w.Code)
	}
	if w := e.do(t, request{method: "GET", path: "/metrics"}); w.Body.String() != "# prometheus\n" {
		t.Errorf("metrics: %q", w.Body)
	}
	vm := e.create(t, `{"name":"a"}`)
	if w := e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID + "/metrics/ws"}); !strings.HasPrefix(w.Body.String(), "vm "+vm.ID) {
		t.Errorf("vm stream: %q", w.Body)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/metrics/ws"}); !strings.HasPrefix(w.Body.String(), "all") {
		t.Errorf("all stream: %q", w.Body)
	}
	e.st.Close()
	w = e.do(t, request{method: "GET", path: "/healthz"})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, w), "database") {
		t.Errorf("healthz without database: %d %s", w.Code, w.Body)
	}
}

// hostAgentStub records attach and detach requests.
type hostAgentStub struct {
	mu       sync.Mutex
	requests []string // "METHOD path auth body"
}

func (s *hostAgentStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
	s.mu.Unlock()
	if r.Method == "POST" {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestHostAgentAttach: registering attaches the VM at its host agent with
// the token; a host agent that is down does not fail the registration;
// deleting detaches.
func TestHostAgentAttach(t *testing.T) {
	stub := &hostAgentStub{}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	e := newEnv(t, func(o *Options) {
		o.HostAgents = agentclient.NewHostAgents(agentclient.Options{Allow: defaultHostAllow, Token: "host-secret"})
	})

	vm := e.create(t, `{"name":"a","host_agent_url":"`+srv.URL+`/","vmm_pid":77,"metrics_fifo":"/run/m.fifo"}`)
	if vm.HostAgent == nil || !vm.HostAgent.Attached || vm.HostAgentURL != srv.URL {
		t.Errorf("attach result %+v, url %q", vm.HostAgent, vm.HostAgentURL)
	}
	want, _ := json.Marshal(wire.VMConfig{ID: vm.ID, PID: 77, MetricsFIFO: "/run/m.fifo"})
	if len(stub.requests) != 1 || stub.requests[0] != "POST /v1/vms Bearer host-secret "+string(want) {
		t.Errorf("host agent saw %q", stub.requests)
	}
	e.do(t, request{method: "DELETE", path: "/v1/vms/" + vm.ID})
	if len(stub.requests) != 2 || !strings.HasPrefix(stub.requests[1], "DELETE /v1/vms/"+vm.ID+" Bearer host-secret") {
		t.Errorf("host agent saw %q", stub.requests)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	vm = e.create(t, `{"name":"b","host_agent_url":"`+down.URL+`","vmm_pid":78}`)
	if vm.HostAgent == nil || vm.HostAgent.Attached || vm.HostAgent.Error != "refused" {
		t.Errorf("attach to a stopped host agent: %+v", vm.HostAgent)
	}
}

// TestHostAgentURLIsNoSSRF is the regression test of the security review:
// host_agent_url used to accept any address (the metadata service, numeric
// spellings, names resolving anywhere), and the answer echoed what the
// remote said. Now the URL must name an allowed host agent, and an
// attach failure is reported as a class only.
func TestHostAgentURLIsNoSSRF(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.HostAgents = agentclient.NewHostAgents(agentclient.Options{Allow: defaultHostAllow, Token: "host-secret"})
	})
	for _, u := range []string{
		"http://127.0.0.1:19999/latest/meta-data", // a path: not a base URL
		"http://169.254.169.254",
		"http://[::ffff:169.254.169.254]",
		"http://[::ffff:a9fe:a9fe]:80",
		"http://0x7f.1:9091",
		"https://2852039166",
		"http://100.100.100.200:9091",
		"http://[fd00:ec2::254]",
		"http://8.8.8.8:9091",
		"http://rebound.example:9091", // one of its addresses is the metadata service
		"http://nowhere.invalid:9091", // does not resolve
	} {
		w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"x","host_agent_url":"` + u + `"}`})
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), "host_agent_url") {
			t.Errorf("%s: %d %s, want 400", u, w.Code, w.Body)
		}
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("%d VMs stored", n)
	}
	// An allowed host agent that answers an error: the caller learns the
	// class, not the body (which could be anything at that address).
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":"SECRET-CREDENTIALS ami-id instance-id"}`)
	}))
	defer leaky.Close()
	vm := e.create(t, `{"name":"y","host_agent_url":"`+leaky.URL+`"}`)
	if vm.HostAgent == nil || vm.HostAgent.Error != "http 403" {
		t.Errorf("attach result %+v, want the class http 403", vm.HostAgent)
	}
	w := e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID})
	if strings.Contains(w.Body.String(), "SECRET") {
		t.Errorf("the remote's body reached the API caller: %s", w.Body)
	}
	// A name whose addresses are all allowed is accepted.
	e.create(t, `{"name":"z","host_agent_url":"http://fc-host-1.internal:9091"}`)
}

// TestTokenOnlyToAllowedAddresses: with a list that does not allow
// loopback, a host agent on loopback never sees a connection, so the
// token cannot leak to it, even through a name resolved at dial time.
func TestTokenOnlyToAllowedAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	hosts := agentclient.NewHostAgents(agentclient.Options{Allow: defaultAllow, Token: "host-secret"})
	for _, base := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		e := hosts.Attach(context.Background(), base, wire.VMConfig{ID: "x"})
		if e == nil || e.Reason != agentclient.ReasonNotAllowed {
			t.Errorf("%s: %v, want not_allowed", base, e)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the host agent on a refused address was contacted %d times", hits.Load())
	}
}

package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// TestForeignHostRefused is the DNS-rebinding defence: a request whose Host
// names another site gets 421 and changes nothing; a stream opened from
// another site's page (its Origin) gets 403.
func TestForeignHostRefused(t *testing.T) {
	hosts, err := netpolicy.NewHosts("127.0.0.1:18080", []string{"fcmon.example"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) {
		o.Hosts = hosts
		o.AllowedOrigin = func(h string) bool { return h == "ui.example:443" }
	})
	w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"rebind"}`,
		header: map[string]string{"Host": "attacker.example:18080", "Origin": "http://attacker.example:18080"}})
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(errorOf(t, w), "--allowed-hosts") {
		t.Fatalf("foreign Host: %d %s, want 421", w.Code, w.Body)
	}
	if e.count(t) != 0 {
		t.Fatal("a refused request stored a VM")
	}
	for _, tc := range []struct {
		host, origin string
		code         int
	}{
		{"attacker.example:18080", "http://attacker.example:18080", 421},
		{"127.0.0.1:18080", "http://attacker.example:18080", 403},
		{"127.0.0.1:18080", "http://127.0.0.1:18080", 200},
		{"fcmon.example", "https://fcmon.example", 200},
		{"127.0.0.1:18080", "https://ui.example:443", 200},
		{"127.0.0.1:18080", "", 200}, // not a browser
	} {
		h := map[string]string{"Host": tc.host}
		if tc.origin != "" {
			h["Origin"] = tc.origin
		}
		w := e.do(t, request{method: "GET", path: "/v1/metrics/ws", header: h})
		if w.Code != tc.code {
			t.Errorf("stream from %q with Host %q: %d %s, want %d", tc.origin, tc.host, w.Code, w.Body, tc.code)
		}
	}
}

// downStore is a store whose database does not answer.
type downStore struct{ store.Store }

var errDown = &store.Error{Backend: "postgres", Op: "query", Err: errors.New("connection refused"), Unavailable: true}

func (downStore) CreateVM(context.Context, store.VM) (store.VM, error) { return store.VM{}, errDown }
func (downStore) GetVM(context.Context, string) (store.VM, error)      { return store.VM{}, errDown }
func (downStore) ListVMs(context.Context) ([]store.VM, error)          { return nil, errDown }
func (downStore) Ping(context.Context) error                           { return errDown }
func (downStore) Backend() string                                      { return "postgres" }

type fakeCache struct{ vms []store.VM }

func (c fakeCache) CachedVM(id string) (store.VM, bool) {
	for _, vm := range c.vms {
		if vm.ID == id {
			return vm, true
		}
	}
	return store.VM{}, false
}
func (c fakeCache) CachedVMs() []store.VM { return c.vms }

func (c fakeCache) LabelsOf(id string) (labels.Set, bool) {
	vm, ok := c.CachedVM(id)
	return vm.Merged, ok
}
func (c fakeCache) CurrentVMs(context.Context) ([]store.VM, error) {
	return c.vms, nil
}

// TestDatabaseDown: while the database does not answer, writes get a 503
// naming it, and what is in memory — the registry's cached VMs and their
// latest samples — is still served.
func TestDatabaseDown(t *testing.T) {
	up := newEnv(t, nil)
	vm := up.create(t, `{"name":"a"}`)
	stored, _ := up.st.GetVM(context.Background(), vm.ID)
	e := newEnv(t, func(o *Options) {
		o.Store = downStore{o.Store}
		o.Cache = fakeCache{[]store.VM{stored}}
	})
	cpu := 5.0
	e.samples.m[vm.ID] = wire.CombinedSample{VMID: vm.ID, TimestampMs: 1, Source: wire.SourceGuest, CPUUsagePercent: &cpu}
	w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"b"}`})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, w), "postgres database does not answer") {
		t.Errorf("create: %d %s, want 503 naming the database", w.Code, w.Body)
	}
	var s wire.CombinedSample
	w = e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID + "/metrics"})
	if decode(t, w, &s); w.Code != 200 || s.CPUUsagePercent == nil || *s.CPUUsagePercent != 5 {
		t.Errorf("latest sample: %d %s, want it from memory", w.Code, w.Body)
	}
	var list []wire.VM
	w = e.do(t, request{method: "GET", path: "/v1/vms"})
	if decode(t, w, &list); w.Code != 200 || len(list) != 1 || list[0].ID != vm.ID {
		t.Errorf("list: %d %s, want the cached registry", w.Code, w.Body)
	}
	if w := e.do(t, request{method: "GET", path: "/metrics"}); w.Code != 200 {
		t.Errorf("/metrics: %d", w.Code)
	}
	w = e.do(t, request{method: "GET", path: "/healthz"})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, w), "postgres") {
		t.Errorf("healthz: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/vms/" + goodID}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a VM not in memory: %d %s, want 503", w.Code, w.Body)
	}
}

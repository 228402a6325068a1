package manager

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestBadVMIDsFromAHost: a host agent answering VMs whose ids PostgreSQL
// cannot store (a NUL byte) or that are empty has those left out and named
// in its status; the rest of its VMs register, on either database.
func TestBadVMIDsFromAHost(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db := ""
			if backend == "postgres" {
				db = needPostgres(t)
			}
			host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(wire.HostSamples{Host: "bad-ids", TimestampMs: time.Now().UnixMilli(), IntervalMs: 250,
					VMs: []wire.VMSample{{ID: ""}, {ID: "nul\x00byte"}, {ID: "ok-1", Discovered: true}, {ID: "ok-2", Discovered: true}}})
			}))
			defer host.Close()
			m := startManager(t, db, "--host-agents", host.URL)
			var page wire.VMPage
			deadline := time.Now().Add(10 * time.Second)
			for {
				m.must(t, 200, "GET", "/v1/vms?limit=10", nil, &page)
				if page.Total == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("VMs registered: %+v", page)
				}
				time.Sleep(100 * time.Millisecond)
			}
			names := map[string]bool{}
			for _, r := range page.VMs {
				names[r.Name] = true
			}
			if !names["ok-1"] || !names["ok-2"] {
				t.Errorf("registered %v", names)
			}
			var hosts []wire.Host
			m.must(t, 200, "GET", "/v1/hosts", nil, &hosts)
			if len(hosts) != 1 || hosts[0].SkippedVMs != 2 || hosts[0].SkippedReason == "" {
				t.Errorf("hosts %+v", hosts)
			}
		})
	}
}

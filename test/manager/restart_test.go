package manager

import (
	"math/rand/v2"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestRestartKeepsHistory: after a clean restart on the same database the
// VMs are still registered and their minute rollups, the partial minute
// included, answer the history; deleting the VM deletes them — on SQLite
// and on PostgreSQL.
func TestRestartKeepsHistory(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		restartKeepsHistory(t, "sqlite:"+t.TempDir()+"/fcmon.db")
	})
	t.Run("postgres", func(t *testing.T) {
		restartKeepsHistory(t, needPostgres(t))
	})
}

func restartKeepsHistory(t *testing.T, dbURL string) {
	began := time.Now()
	guest := startGuestAgent(t)
	m := startManager(t, dbURL)
	ip, port := testprog.SplitAddr(t, guest.Addr)
	vm := m.register(t, map[string]any{"name": "durable", "guest_ip": ip, "guest_port": port})
	m.waitLatest(t, vm.ID, 5*time.Second, "guest sample", isSource(wire.SourceGuest))
	time.Sleep(3 * pollInterval) // a few samples into the minute
	if code := m.Signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("manager exited with %d after SIGTERM", code)
	}

	m = startManager(t, dbURL)
	var got wire.VM
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID, nil, &got)
	if got.Name != "durable" || got.GuestIP != ip || got.GuestPort != port {
		t.Errorf("VM after restart %+v", got)
	}
	since := began.Add(-2 * time.Minute).UnixMilli()
	var h wire.History
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID+"/metrics/history?since="+itoa(since), nil, &h)
	if h.Resolution != wire.Resolution1m || len(h.Points) == 0 {
		t.Fatalf("history after restart %+v", h)
	}
	samples := 0
	for _, p := range h.Points {
		samples += p.Samples
		if p.Source != wire.SourceGuest || p.CPUUsagePercent == nil || p.MemoryTotalKB == nil ||
			*p.MemoryTotalKB != fixtureMemTotalKB {
			t.Errorf("rollup point %+v", p)
		}
	}
	if samples < 3 {
		t.Errorf("rollups hold %d samples, want at least 3", samples)
	}

	// Deleting removes the rollups too: the same id registered again
	// starts with an empty history.
	m.must(t, http.StatusNoContent, "DELETE", "/v1/vms/"+vm.ID, nil, nil)
	m.must(t, http.StatusNotFound, "GET", "/v1/vms/"+vm.ID+"/metrics/history", nil, nil)
	m.register(t, map[string]any{"id": vm.ID, "name": "reborn"})
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID+"/metrics/history?since="+itoa(since), nil, &h)
	if len(h.Points) != 0 {
		t.Errorf("history of a deleted and re-registered VM: %+v", h.Points)
	}
}

// TestCrashLosesAtMost15s: a manager killed with SIGKILL at a random moment
// loses at most the last 15 s of history, on SQLite and on PostgreSQL:
// every sample taken more than 15 s before the kill is in the rollups the
// restarted manager serves. (Partial minutes are written every 10 s.)
func TestCrashLosesAtMost15s(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		crashLosesAtMost15s(t, "sqlite:"+t.TempDir()+"/fcmon.db")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		crashLosesAtMost15s(t, needPostgres(t))
	})
}

func crashLosesAtMost15s(t *testing.T, dbURL string) {
	guest := startGuestAgent(t)
	m := startManager(t, dbURL)
	ip, port := testprog.SplitAddr(t, guest.Addr)
	vm := m.register(t, map[string]any{"name": "crash", "guest_ip": ip, "guest_port": port})
	m.waitLatest(t, vm.ID, 5*time.Second, "guest sample", isSource(wire.SourceGuest))
	began := time.Now()
	run := 12*time.Second + time.Duration(rand.Int64N(int64(12*time.Second)))
	time.Sleep(run)

	var live wire.History
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID+"/metrics/history?since="+itoa(began.UnixMilli()), nil, &live)
	killedAt := time.Now()
	m.Signal(syscall.SIGKILL)
	if live.Resolution != wire.ResolutionRaw || len(live.Points) == 0 {
		t.Fatalf("live history before the kill: %+v", live)
	}
	// Samples per minute that must survive: those older than 15 s.
	want := map[int64]int{}
	total := 0
	for _, p := range live.Points {
		if p.TimestampMs <= killedAt.Add(-15*time.Second).UnixMilli() {
			want[p.TimestampMs/60000*60000]++
			total++
		}
	}

	m = startManager(t, dbURL)
	var h wire.History
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID+"/metrics/history?since="+itoa(began.Add(-2*time.Minute).UnixMilli())+
		"&until="+itoa(killedAt.UnixMilli()), nil, &h)
	got := map[int64]int{}
	for _, p := range h.Points {
		got[p.TimestampMs] = p.Samples
	}
	lost := 0
	for minute, n := range want {
		if got[minute] < n {
			lost += n - got[minute]
			t.Errorf("minute %d: %d samples stored, want at least the %d taken more than 15 s before the kill", minute, got[minute], n)
		}
	}
	stored := 0
	for _, n := range got {
		stored += n
	}
	t.Logf("killed after %v: %d samples polled, %d older than 15 s, %d stored, %d of those lost", run.Round(time.Millisecond),
		len(live.Points), total, stored, lost)
}

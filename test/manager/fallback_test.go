package manager

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// grace is what a loaded two-core machine may add to a deadline measured in
// poll intervals.
const grace = 400 * time.Millisecond

// TestFallbackAndRecovery: a VM registered with a guest agent, a host agent,
// a VMM process and a Firecracker metrics FIFO reads from the guest, falls
// back to the host within two poll intervals of the guest agent stopping,
// returns to the guest once a new agent's address is posted, and takes its
// network and disk rates from Firecracker throughout.
func TestFallbackAndRecovery(t *testing.T) {
	guest := startGuestAgent(t)
	host := startHostAgent(t)
	fifo := filepath.Join(t.TempDir(), "metrics.fifo")
	feedFIFO(t, fifo)
	m := startManager(t, "")
	ip, port := testprog.SplitAddr(t, guest.Addr)
	vm := m.register(t, map[string]any{"name": "fallback", "guest_ip": ip, "guest_port": port,
		"host_agent_url": "http://" + host.Addr, "vmm_pid": startVMM(t), "metrics_fifo": fifo})
	if vm.HostAgent == nil || !vm.HostAgent.Attached {
		t.Fatalf("registration did not attach at the host agent: %+v", vm.HostAgent)
	}
	stream, _ := m.subscribe(t, "/v1/vms/"+vm.ID+"/metrics/ws", nil)

	r := next(t, stream, 5*time.Second, "first guest sample", isSource(wire.SourceGuest))
	if r.s.MemoryTotalKB == nil || *r.s.MemoryTotalKB != fixtureMemTotalKB || !r.s.GuestAgent.Reachable {
		t.Errorf("guest sample %s", show(r.s))
	}
	r = next(t, stream, 5*time.Second, "Firecracker rates", firecrackerRates)
	if r.s.Network.RxBytesPerSec <= 0 || r.s.Disk.WriteBytesPerSec <= 0 {
		t.Errorf("Firecracker rates are zero: %s", show(r.s))
	}

	guest.Signal(syscall.SIGTERM)
	stopped := time.Now()
	r = next(t, stream, 2*pollInterval+grace, "host fallback", isSource(wire.SourceHost))
	t.Logf("source host %v after the guest agent stopped", r.at.Sub(stopped).Round(time.Millisecond))
	if r.s.GuestAgent.Reachable || r.s.GuestAgent.LastError == "" || r.s.CPUUsagePercent == nil || r.s.MemoryUsedKB == nil {
		t.Errorf("host sample %s", show(r.s))
	}
	if !firecrackerRates(r.s) {
		t.Errorf("host sample lost Firecracker's rates: %s", show(r.s))
	}

	guest = startGuestAgent(t)
	ip, port = testprog.SplitAddr(t, guest.Addr)
	posted := time.Now()
	m.must(t, 200, "POST", "/v1/vms/"+vm.ID+"/guest-ip", map[string]any{"guest_ip": ip, "guest_port": port}, nil)
	r = next(t, stream, 3*pollInterval+grace, "guest again", isSource(wire.SourceGuest))
	t.Logf("source guest %v after the new address was posted", r.at.Sub(posted).Round(time.Millisecond))

	var list []struct {
		ID           string                `json:"id"`
		GuestPort    int                   `json:"guest_port"`
		Source       string                `json:"source"`
		LastSampleMs int64                 `json:"last_sample_ms"`
		GuestAgent   wire.GuestAgentStatus `json:"guest_agent"`
	}
	m.must(t, 200, "GET", "/v1/vms", nil, &list)
	if len(list) != 1 || list[0].GuestPort != port || list[0].Source != wire.SourceGuest ||
		list[0].LastSampleMs == 0 || !list[0].GuestAgent.Reachable {
		t.Errorf("list %+v", list)
	}
}

// fixtureMemTotalKB is MemTotal in the fixture's /proc/meminfo.
const fixtureMemTotalKB = 24684092

func firecrackerRates(s wire.CombinedSample) bool {
	return s.Network != nil && s.Network.Source == wire.RatesFirecracker &&
		s.Disk != nil && s.Disk.Source == wire.RatesFirecracker
}

// feedFIFO feeds a FIFO at path the captured line with growing counters
// every 100 ms until the test ends (see fcstandin.FeedFIFO).
func feedFIFO(t *testing.T, path string) {
	start := time.Now().UnixMilli()
	fcstandin.FeedFIFO(t, path, func(n int, line map[string]any) {
		line["utc_timestamp_ms"] = start + int64(n)*100
		fcstandin.SetDeltas(line, 3000, 1000, 8192, 4096)
	})
}

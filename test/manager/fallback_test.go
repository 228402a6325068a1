package manager

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
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
	ip, port := splitAddr(t, guest.Addr)
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
	ip, port = splitAddr(t, guest.Addr)
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

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// feedFIFO makes a FIFO at path and writes a Firecracker metrics line,
// shaped as the captured one with growing counters, every 100 ms until the
// test ends. It holds the FIFO open read-write, as Firecracker holds it.
func feedFIFO(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile("../../internal/testsupport/fcstandin/metrics-line.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ts := time.Now().UnixMilli(); ; ts += 100 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := f.Write(fcLine(t, raw, ts)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); f.Close(); <-done })
}

// fcLine is the captured line with utc_timestamp_ms set to ts and
// per-flush deltas in the network and block counters.
func fcLine(t *testing.T, raw []byte, ts int64) []byte {
	var line map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&line); err != nil {
		t.Error(err)
		return nil
	}
	line["utc_timestamp_ms"] = ts
	for _, k := range []string{"net", "net_eth0"} {
		sec := line[k].(map[string]any)
		sec["rx_bytes_count"], sec["tx_bytes_count"] = 3000, 1000
	}
	for _, k := range []string{"block", "block_rootfs"} {
		sec := line[k].(map[string]any)
		sec["read_bytes"], sec["write_bytes"] = 8192, 4096
	}
	out, err := json.Marshal(line)
	if err != nil {
		t.Error(err)
	}
	return append(out, '\n')
}

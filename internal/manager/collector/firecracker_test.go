package collector

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// Per-line deltas the stand-in Firecracker writes, and the spacing of its
// utc_timestamp_ms: the rates must come out as delta / Δt.
const (
	fcLineGapMs = 500
	fcRxDelta   = 3000
	fcTxDelta   = 1000
	fcReadDelta = 8192
	fcWriteDel  = 4096
)

// feedFIFO writes a line to the FIFO every 100 ms until the test ends (see
// fcstandin.FeedFIFO).
func feedFIFO(t *testing.T, path string) {
	start := time.Now().UnixMilli()
	fcstandin.FeedFIFO(t, path, func(n int, line map[string]any) {
		line["utc_timestamp_ms"] = start + int64(n+1)*fcLineGapMs
		fcstandin.SetDeltas(line, fcRxDelta, fcTxDelta, fcReadDelta, fcWriteDel)
	})
}

func firecrackerRates(s wire.CombinedSample) bool {
	return s.Network != nil && s.Network.Source == wire.RatesFirecracker && s.Disk != nil && s.Disk.Source == wire.RatesFirecracker
}

// TestFirecrackerAndReattach: the collector attaches a VM its host agent
// does not know, combines the VMM's process figures with Firecracker's
// network and disk rates from a real FIFO, and attaches it again after the
// host agent restarts.
func TestFirecrackerAndReattach(t *testing.T) {
	host := startHostAgent(t, "127.0.0.1:0")
	fifo := filepath.Join(t.TempDir(), "metrics.fifo")
	feedFIFO(t, fifo)
	vmm := startVMM(t)
	h := newHarness(t, testInterval, nil)
	tg := Target{ID: "vm-fc", HostAgentURL: "http://" + host.addr, VMMPID: vmm, MetricsFIFO: fifo}
	h.set(tg)

	r := h.waitSample(t, tg.ID, time.Time{}, 5*time.Second, "Firecracker rates", firecrackerRates)
	checkFirecrackerSample(t, r.s)
	if n := len(h.pollsOf(tg.ID, KindAttach)); n != 1 {
		t.Errorf("%d attach requests, want 1", n)
	}

	host.stop(syscall.SIGTERM)
	restarted := time.Now()
	h.waitSample(t, tg.ID, restarted, 2*testInterval+grace, "sample while the host agent is down", isSource(wire.SourceNone))
	startHostAgent(t, host.addr)
	r = h.waitSample(t, tg.ID, time.Now(), 5*time.Second, "Firecracker rates after the restart", firecrackerRates)
	checkFirecrackerSample(t, r.s)
	t.Logf("Firecracker rates again %v after the host agent went down", r.at.Sub(restarted))
	attaches := h.pollsOf(tg.ID, KindAttach)
	if len(attaches) < 2 || attaches[len(attaches)-1].Err != nil {
		t.Errorf("attach requests %+v, want a successful one after the restart", attaches)
	}
}

func checkFirecrackerSample(t *testing.T, s wire.CombinedSample) {
	t.Helper()
	gap := float64(fcLineGapMs) / 1000
	want := [4]float64{fcRxDelta / gap, fcTxDelta / gap, fcReadDelta / gap, fcWriteDel / gap}
	got := [4]float64{s.Network.RxBytesPerSec, s.Network.TxBytesPerSec, s.Disk.ReadBytesPerSec, s.Disk.WriteBytesPerSec}
	if got != want {
		t.Errorf("rates rx, tx, read, write = %v, want %v", got, want)
	}
	if s.Source != wire.SourceHost || s.MemoryUsedKB == nil || s.CPUUsagePercent == nil {
		t.Errorf("want the VMM's figures beside Firecracker's: %s", show(s))
	}
}

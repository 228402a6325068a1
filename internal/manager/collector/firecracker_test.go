package collector

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
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

// fcLines returns a function producing Firecracker metrics lines in the
// exact shape of testsupport/fcstandin/metrics-line.json, with per-flush deltas and a
// timestamp advancing by fcLineGapMs.
func fcLines(t *testing.T) func() []byte {
	raw, err := os.ReadFile("../../testsupport/fcstandin/metrics-line.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UnixMilli()
	return func() []byte {
		var line map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&line); err != nil {
			t.Error(err)
			return nil
		}
		ts += fcLineGapMs
		line["utc_timestamp_ms"] = ts
		for _, k := range []string{"net", "net_eth0"} {
			sec := line[k].(map[string]any)
			sec["rx_bytes_count"], sec["tx_bytes_count"] = fcRxDelta, fcTxDelta
		}
		for _, k := range []string{"block", "block_rootfs"} {
			sec := line[k].(map[string]any)
			sec["read_bytes"], sec["write_bytes"] = fcReadDelta, fcWriteDel
		}
		out, err := json.Marshal(line)
		if err != nil {
			t.Error(err)
		}
		return append(out, '\n')
	}
}

// feedFIFO writes a line to the FIFO every 100 ms until the test ends. The
// FIFO is opened read-write, as a writer that outlives its readers (like
// Firecracker across a host agent restart) holds it.
func feedFIFO(t *testing.T, path string) {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := fcLines(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := f.Write(next()); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); f.Close(); <-done })
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

package firecracker

import (
	"math"
	"testing"
)

func decode(t *testing.T, b *lineBuilder) Line {
	t.Helper()
	l, err := DecodeLine(b.bytes())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAccumulatorSumsDeltasAndRates(t *testing.T) {
	a := NewAccumulator()
	const t0 = 1_767_225_600_000
	// Three flushes: the first delta covers an unknown span, so rates
	// start with the second line.
	deltas := []struct {
		ms           int64
		rx, tx, rd   uint64
		missedMetric uint64
	}{
		{t0, 1000, 100, 4096, 0},
		{t0 + 1000, 3000, 500, 8192, 2},
		{t0 + 3000, 8000, 1000, 0, 1},
	}
	for _, d := range deltas {
		b := newLine(t, d.ms).zero().
			set("net_eth0", "rx_bytes_count", d.rx).set("net", "rx_bytes_count", d.rx).
			set("net_eth0", "tx_bytes_count", d.tx).set("net", "tx_bytes_count", d.tx).
			set("block_rootfs", "read_bytes", d.rd).set("block", "read_bytes", d.rd).
			set("logger", "missed_metrics_count", d.missedMetric)
		a.Add(decode(t, b))
	}
	got := a.Snapshot()
	if got.Lines != 3 || got.LastLineMs != t0+3000 || got.MissedMetrics != 3 || got.RateWindowMs != 2000 {
		t.Fatalf("counts: %+v", got)
	}
	eth := got.Net["eth0"]
	if eth.RxBytes != 12000 || eth.TxBytes != 1600 || got.NetAll.RxBytes != 12000 {
		t.Errorf("net totals %+v / %+v", eth, got.NetAll)
	}
	if eth.RxBytesPerSec != 4000 || eth.TxBytesPerSec != 500 || got.NetAll.RxBytesPerSec != 4000 {
		t.Errorf("net rates %+v", eth)
	}
	if r := got.Block["rootfs"]; r.ReadBytes != 12288 || r.ReadBytesPerSec != 0 || got.BlockAll.ReadBytes != 12288 {
		t.Errorf("block %+v", r)
	}
}

func TestAccumulatorFoldsCloseLines(t *testing.T) {
	a := NewAccumulator()
	add := func(ms int64, rx uint64) {
		a.Add(decode(t, newLine(t, ms).zero().set("net_eth0", "rx_bytes_count", rx).set("net", "rx_bytes_count", rx)))
	}
	add(0, 0)
	add(1000, 1000) // 1000 B/s over 1 s
	add(1005, 500)  // periodic flush 5 ms later: folded into the next window
	if r := a.Snapshot().Net["eth0"].RxBytesPerSec; r != 1000 {
		t.Fatalf("rate after close line = %v, want 1000 (unchanged)", r)
	}
	add(2000, 1500) // window 1000..2000 holds 2000 bytes
	if s := a.Snapshot(); s.Net["eth0"].RxBytesPerSec != 2000 || s.RateWindowMs != 1000 {
		t.Fatalf("rate = %v over %d ms, want 2000 over 1000", s.Net["eth0"].RxBytesPerSec, s.RateWindowMs)
	}
	add(500, 10) // clock went back: window restarts, no negative rate
	add(1500, 100)
	if r := a.Snapshot().Net["eth0"].RxBytesPerSec; r != 100 || math.IsNaN(r) {
		t.Fatalf("rate after rewind = %v, want 100", r)
	}
}

func TestAccumulatorAggregateFromDevices(t *testing.T) {
	a := NewAccumulator()
	l := decode(t, newLine(t, 1).zero().drop("net").drop("block").
		set("net_eth0", "rx_bytes_count", 10).add("net_eth1", `{"rx_bytes_count":5}`))
	a.Add(l)
	s := a.Snapshot()
	if s.NetAll == nil || s.NetAll.RxBytes != 15 || len(s.Net) != 2 || s.BlockAll == nil {
		t.Fatalf("aggregate %+v devices %+v block %+v", s.NetAll, s.Net, s.BlockAll)
	}
	// Snapshot is a copy.
	s.Net["eth0"] = NetTotals{}
	s.NetAll.RxBytes = 0
	if a.Snapshot().NetAll.RxBytes != 15 || a.Snapshot().Net["eth0"].RxBytes != 10 {
		t.Fatal("Snapshot shares state with the accumulator")
	}
}

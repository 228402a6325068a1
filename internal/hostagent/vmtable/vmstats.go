package vmtable

import (
	"errors"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/cgroup"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
)

// stats assembles what every source of v has now. Nothing here reads /proc
// or waits: process figures come from the tracker's latest window, the rest
// from the readers' running totals.
func (a *Table) stats(v *vm) wire.VMStats {
	st := wire.VMStats{ID: v.cfg.ID, TimestampMs: time.Now().UnixMilli()}
	errs := map[string]string{}
	if v.found != nil {
		for k, e := range v.found.Refused {
			errs[k] = e
		}
	}
	for k, e := range v.refused {
		errs[k] = e
	}
	if v.cfg.PID > 0 {
		ps, err := a.procs.Stats(v.cfg.PID)
		if err != nil {
			errs["process"] = err.Error()
		} else {
			st.Process = &ps
		}
		cg, err := a.cgroups.Stats(v.cfg.PID)
		st.Cgroup = cg
		if err != nil && !errors.Is(err, cgroup.ErrRoot) && st.Process != nil {
			errs["cgroup"] = err.Error()
		}
	}
	var props map[string]string
	if v.reader != nil {
		t, _, err := v.reader.Snapshot()
		props = t.Properties
		st.Firecracker = firecrackerStatus(t)
		st.Network = networkFromFirecracker(t)
		st.Block = blockFromFirecracker(t)
		switch {
		case err != nil:
			errs["metrics_fifo"] = err.Error()
		case t.Lines == 0:
			errs["metrics_fifo"] = "no metrics line read yet from " + v.cfg.MetricsFIFO
		}
	}
	if v.flusher != nil {
		fs := v.flusher.Status()
		st.Firecracker.Flush = &wire.FlushStatus{Requests: fs.Requests, Failures: fs.Failures, LastError: fs.LastError, Lost: fs.Lost}
		st.Firecracker.MissedMetricsCount += fs.Lost // lines Firecracker could not write when asked
		if !fs.LastSuccess.IsZero() {
			st.Firecracker.Flush.LastSuccessMs = fs.LastSuccess.UnixMilli()
		}
		if fs.LastError != "" {
			errs["api_socket"] = fs.LastError
		}
	}
	if v.tap != nil {
		ts, err := v.tap.stats()
		st.Tap = ts
		needed := st.Network == nil // Firecracker's lines come first
		if ts != nil && needed {
			st.Network = networkFromTap(ts)
		}
		// A tap that cannot be read matters only when the network
		// figures were to come from it (a tap in another network
		// namespace, or one QEMU's user network never made).
		if err != nil && needed {
			errs["tap"] = err.Error()
		}
	}
	set, problem := vmLabels(v, props, time.Now())
	st.Labels = set
	if problem != "" {
		errs["labels"] = problem
	}
	if len(errs) > 0 {
		st.Errors = errs
	}
	return st
}

func firecrackerStatus(t firecracker.Totals) *wire.FirecrackerStatus {
	return &wire.FirecrackerStatus{
		LastLineMs: t.LastLineMs, Lines: t.Lines, BadLines: t.BadLines, LongLines: t.LongLines,
		MissedMetricsCount: t.MissedMetrics, RateWindowMs: t.RateWindowMs, VMM: vmmFigures(t.VMMTotals),
	}
}

// vmmFigures are the VMM's own groups, nil before a line carried one.
func vmmFigures(t firecracker.VMMTotals) *wire.VMMFigures {
	if t.VCPU == nil && t.Vsock == nil && t.Signals == nil && t.Seccomp == nil && t.VMM == nil && t.VhostUser == nil {
		return nil
	}
	f := &wire.VMMFigures{}
	f.Fatal, f.FatalField = t.DeathNote()
	if c := t.VCPU; c != nil {
		f.VCPUFailures = c.Failures
		f.VCPUExits = map[string]uint64{"io_in": c.ExitIOIn, "io_out": c.ExitIOOut, "mmio_read": c.ExitMMIORead, "mmio_write": c.ExitMMIOWrite}
		f.VCPUExitMicros = map[string]uint64{"io_in": c.ExitIOInAgg.SumUs, "io_out": c.ExitIOOutAgg.SumUs,
			"mmio_read": c.ExitMMIOReadAgg.SumUs, "mmio_write": c.ExitMMIOWriteAgg.SumUs}
	}
	if c := t.Vsock; c != nil {
		f.Vsock = &wire.VsockFigures{ConnsAdded: c.ConnsAdded, ConnsKilled: c.ConnsKilled, ConnsRemoved: c.ConnsRemoved,
			RxBytesTotal: c.RxBytes, TxBytesTotal: c.TxBytes, ErrorsTotal: c.Fails()}
	}
	if t.Signals != nil {
		f.SigpipeTotal = t.Signals.SIGPIPE
	}
	for name, d := range t.VhostUser {
		if f.VhostUser == nil {
			f.VhostUser = map[string]wire.VhostUserDevice{}
		}
		f.VhostUser[name] = wire.VhostUserDevice{ActivateFails: d.ActivateFails, CfgFails: d.CfgFails, InitMicros: d.InitTimeUs}
	}
	return f
}

// rate returns v when the totals have a rate window and nil before, so a
// rate nobody could compute yet is absent rather than a made-up zero.
func rate(t firecracker.Totals, v float64) *float64 {
	if t.RateWindowMs == 0 {
		return nil
	}
	return &v
}

func networkFromFirecracker(t firecracker.Totals) *wire.VMNetwork {
	if t.NetAll == nil {
		return nil
	}
	n := &wire.VMNetwork{
		Source:       wire.RatesFirecracker,
		RxBytesTotal: t.NetAll.RxBytes, TxBytesTotal: t.NetAll.TxBytes,
		RxPacketsTotal: t.NetAll.RxPackets, TxPacketsTotal: t.NetAll.TxPackets,
		RxBytesPerSec: rate(t, t.NetAll.RxBytesPerSec), TxBytesPerSec: rate(t, t.NetAll.TxBytesPerSec),
		Interfaces: make(map[string]wire.VMNetInterface, len(t.Net)),
	}
	for id, c := range t.Net {
		n.Interfaces[id] = wire.VMNetInterface{
			RxBytesTotal: c.RxBytes, TxBytesTotal: c.TxBytes,
			RxPacketsTotal: c.RxPackets, TxPacketsTotal: c.TxPackets,
			RxBytesPerSec: rate(t, c.RxBytesPerSec), TxBytesPerSec: rate(t, c.TxBytesPerSec),
			RxThrottledTotal: c.RxThrottled, TxThrottledTotal: c.TxThrottled, TapErrorsTotal: c.TapReadFails + c.TapWriteFails,
		}
	}
	return n
}

func blockFromFirecracker(t firecracker.Totals) *wire.VMBlock {
	if t.BlockAll == nil {
		return nil
	}
	b := &wire.VMBlock{
		ReadBytesTotal: t.BlockAll.ReadBytes, WriteBytesTotal: t.BlockAll.WriteBytes,
		ReadsTotal: t.BlockAll.ReadCount, WritesTotal: t.BlockAll.WriteCount,
		ReadBytesPerSec:  rate(t, t.BlockAll.ReadBytesPerSec),
		WriteBytesPerSec: rate(t, t.BlockAll.WriteBytesPerSec),
		Drives:           make(map[string]wire.VMDrive, len(t.Block)),
	}
	for id, c := range t.Block {
		b.Drives[id] = wire.VMDrive{
			ReadBytesTotal: c.ReadBytes, WriteBytesTotal: c.WriteBytes,
			ReadsTotal: c.ReadCount, WritesTotal: c.WriteCount,
			ReadBytesPerSec: rate(t, c.ReadBytesPerSec), WriteBytesPerSec: rate(t, c.WriteBytesPerSec),
			ThrottledTotal: c.Throttled, EngineThrottledTotal: c.IOEngineThrottled,
		}
	}
	return b
}

// networkFromTap stands in for Firecracker's figures when there is no
// metrics FIFO. Tap counters include no virtio headers, so the two sources
// differ by 12 bytes a frame; Source tells them apart.
func networkFromTap(ts *wire.TapStats) *wire.VMNetwork {
	iface := wire.VMNetInterface{
		RxBytesTotal: ts.RxBytesTotal, TxBytesTotal: ts.TxBytesTotal,
		RxPacketsTotal: ts.RxPacketsTotal, TxPacketsTotal: ts.TxPacketsTotal,
		RxBytesPerSec: ts.RxBytesPerSec, TxBytesPerSec: ts.TxBytesPerSec,
	}
	return &wire.VMNetwork{
		Source:       wire.RatesTap,
		RxBytesTotal: ts.RxBytesTotal, TxBytesTotal: ts.TxBytesTotal,
		RxPacketsTotal: ts.RxPacketsTotal, TxPacketsTotal: ts.TxPacketsTotal,
		RxBytesPerSec: ts.RxBytesPerSec, TxBytesPerSec: ts.TxBytesPerSec,
		Interfaces: map[string]wire.VMNetInterface{ts.Device: iface},
	}
}

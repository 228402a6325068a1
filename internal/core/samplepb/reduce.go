package samplepb

import "github.com/fcmon/fcmon/internal/core/wire"

// FromWire reduces the JSON document of GET /v1/samples to the figures
// the dense encoding carries, into h (reusing h.VMs): what the host agent
// encodes, and what a manager reading JSON works with.
func FromWire(w *wire.HostSamples, h *HostSamples) {
	*h = HostSamples{Host: w.Host, TimestampMs: w.TimestampMs, IntervalMs: w.IntervalMs, VMs: h.VMs[:0], Exits: h.Exits[:0],
		Clashes: h.Clashes[:0]}
	for i := range w.VMs {
		h.VMs = append(h.VMs, fromVM(&w.VMs[i], w.TimestampMs))
	}
	for _, e := range w.Exits {
		h.Exits = append(h.Exits, Exit{ID: e.ID, PID: int64(e.PID), AtMs: e.AtMs, Reason: e.Reason,
			CgroupOOMKills: e.CgroupOOMKills, CgroupLimitBytes: e.CgroupMemoryLimitBytes})
	}
	for _, c := range w.Clashes {
		h.Clashes = append(h.Clashes, Clash{ID: c.ID, PID: int64(c.PID), HolderPID: int64(c.HolderPID), RenamedTo: c.RenamedTo, AtMs: c.AtMs})
	}
}

func fromVM(s *wire.VMSample, nowMs int64) VM {
	v := VM{ID: s.ID, Discovered: s.Discovered}
	if len(s.Errors) > 0 {
		v.Errors = s.Errors
	}
	if len(s.Labels) > 0 {
		v.Labels = s.Labels
	}
	if g := s.Guest; g != nil {
		v.HasGuest = true
		pct := g.MemoryUsagePercent
		v.Guest = Guest{CPUUsagePercent: g.CPUUsagePercent, MemoryUsagePercent: &pct,
			MemoryUsedKB: g.MemoryUsedKB, MemoryTotalKB: g.MemoryTotalKB, MemoryAvailableKB: g.MemoryAvailableKB,
			UptimeSeconds: g.UptimeSeconds, TimestampMs: g.TimestampMs, AgeMs: g.AgeMs, Transport: g.Transport,
			BootID: g.BootID, AgentVersion: g.AgentVersion, OOMKills: g.OOMKills, AgentStartedMs: g.AgentStartedMs,
			ClockSkewMs: g.ClockSkewMs}
		if r := g.Restore; r != nil {
			n := r.Detected
			v.Guest.RestoresDetected, v.Guest.VMGeneration, v.Guest.ClockStepMs = &n, r.VMGeneration, r.ClockStepMs
		}
		if len(g.Network) > 0 {
			v.Guest.HasNetwork = true
			v.Guest.Network.Source = wire.RatesGuest
			for _, n := range g.Network {
				v.Guest.Network.RxBytesPerSec += n.RxBytesPerSec
				v.Guest.Network.TxBytesPerSec += n.TxBytesPerSec
			}
		}
		if len(g.Disks) > 0 {
			v.Guest.HasDisk = true
			v.Guest.Disk.Source = wire.RatesGuest
			for _, d := range g.Disks {
				v.Guest.Disk.RxBytesPerSec += d.ReadBytesPerSec
				v.Guest.Disk.TxBytesPerSec += d.WriteBytesPerSec
			}
		}
	}
	if c := s.VCPU; c != nil && c.Count > 0 {
		v.HasVCPU = true
		v.VCPU = VCPU{Count: uint32(c.Count), UsagePercent: c.UsagePercent}
	}
	if b := s.Balloon; b != nil {
		v.HasBalloon = true
		v.Balloon = Balloon{TotalKB: b.TotalKB, AvailableKB: b.AvailableKB, FreeKB: b.FreeKB, AgeMs: b.AgeMs, OOMKills: b.OOMKills}
	}
	if c := s.Cgroup; c != nil {
		v.HasCgroup = true
		v.Cgroup = Cgroup{Version: uint32(c.Version), Epoch: c.Epoch, CPUUsagePercent: c.CPUUsagePercent, ThrottledPercent: c.ThrottledPercent,
			CPUThrottledPeriods: c.CPUThrottledPeriods, CPUThrottledSeconds: c.CPUThrottledSeconds, CPUUsageSeconds: c.CPUUsageSeconds,
			CPUQuotaCores: c.CPUQuotaCores, MemoryCurrentBytes: c.MemoryCurrentBytes, MemoryPeakBytes: c.MemoryPeakBytes,
			MemoryLimitBytes: c.MemoryLimitBytes, EventsMax: c.MemoryEvents.Max, EventsHigh: c.MemoryEvents.High, EventsOOMKill: c.MemoryEvents.OOMKill}
	}
	if p := s.Process; p != nil {
		v.HasProcess = true
		v.Process = Process{PID: int32(p.PID), CPUUsagePercent: p.CPUUsagePercent, VCPUUsagePercent: p.VCPUUsagePercent,
			VCPUThreads: uint32(max(p.VCPUThreads, 0)), MemoryRSSKB: p.MemoryRSSKB, UptimeSeconds: uint64(max(p.UptimeSeconds, 0))}
	}
	var lineAge int64
	if f := s.Firecracker; f != nil && f.LastLineMs > 0 {
		lineAge = max(nowMs-f.LastLineMs, 0)
	}
	if n := s.Network; n != nil && n.RxBytesPerSec != nil && n.TxBytesPerSec != nil {
		v.HasNetwork = true
		v.Network = Rates{Source: n.Source, RxBytesPerSec: *n.RxBytesPerSec, TxBytesPerSec: *n.TxBytesPerSec}
		if n.Source == wire.RatesFirecracker {
			v.Network.AgeMs = lineAge
		}
	}
	if b := s.Block; b != nil && b.ReadBytesPerSec != nil && b.WriteBytesPerSec != nil {
		v.HasBlock = true
		v.Block = Rates{Source: wire.RatesFirecracker, RxBytesPerSec: *b.ReadBytesPerSec, TxBytesPerSec: *b.WriteBytesPerSec, AgeMs: lineAge}
	}
	return v
}

package collector

import (
	"math"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// fromHost combines one VM of a host agent's document into a sample,
// figure group by figure group: CPU from the guest agent, else the vCPU
// threads, else the VMM process; memory from the guest agent, else the
// balloon's statistics, else the VMM process; network and disk from
// Firecracker's metrics (or the tap), else the guest's own. A part counts
// only while it is current: the guest's and the balloon's latest reading
// must have succeeded (no error for the part) and be at most three of the
// host agent's intervals old. fresh reports whether CPU and memory figures
// came with it.
func fromHost(id string, now time.Time, ivMs int64, v *samplepb.VM) (s wire.CombinedSample, fresh bool) {
	s = wire.CombinedSample{VMID: id, TimestampMs: now.UnixMilli(), Source: wire.SourceNone, MemorySource: wire.SourceNone}
	maxAge := 3 * max(ivMs, 100)
	guest := v.HasGuest && v.Errors["guest"] == "" && v.Guest.AgeMs <= maxAge
	balloon := v.HasBalloon && v.Errors["balloon"] == "" && v.Balloon.AgeMs <= maxAge && v.Balloon.TotalKB != nil &&
		(v.Balloon.AvailableKB != nil || v.Balloon.FreeKB != nil)
	cpu, mem := wire.SourceNone, wire.SourceNone
	switch {
	case guest:
		cpu = wire.SourceGuest
		s.CPUUsagePercent = ptr(v.Guest.CPUUsagePercent)
	case v.HasVCPU:
		cpu = wire.SourceVCPU
		s.CPUUsagePercent = ptr(math.Min(v.VCPU.UsagePercent, 100))
	case v.HasProcess:
		cpu = wire.SourceHost
		s.CPUUsagePercent = ptr(math.Min(v.Process.CPUUsagePercent, 100))
	}
	switch {
	case guest:
		mem = wire.SourceGuest
		g := &v.Guest
		s.MemoryUsedKB, s.MemoryTotalKB, s.MemoryAvailableKB = ptr(g.MemoryUsedKB), ptr(g.MemoryTotalKB), ptr(g.MemoryAvailableKB)
		if g.MemoryUsagePercent != nil {
			s.MemoryUsagePercent = ptr(*g.MemoryUsagePercent)
		}
	case balloon:
		mem = wire.SourceBalloon
		total, avail := *v.Balloon.TotalKB, v.Balloon.AvailableKB
		if avail == nil {
			avail = v.Balloon.FreeKB
		}
		used := total - min(*avail, total)
		s.MemoryUsedKB, s.MemoryTotalKB, s.MemoryAvailableKB = ptr(used), ptr(total), ptr(*avail)
		if total > 0 {
			s.MemoryUsagePercent = ptr(math.Round(float64(used)/float64(total)*10000) / 100)
		}
	case v.HasProcess:
		mem = wire.SourceHost
		s.MemoryUsedKB = ptr(v.Process.MemoryRSSKB)
	}
	switch {
	case guest:
		s.UptimeSeconds = ptr(v.Guest.UptimeSeconds)
	case v.HasProcess:
		s.UptimeSeconds = ptr(v.Process.UptimeSeconds)
	}
	s.MemorySource = mem
	s.Source = cpu
	if cpu == wire.SourceNone {
		s.Source = mem // memory alone (a balloon without vCPU figures)
	}
	s.Network = hostRates(v.HasNetwork, &v.Network, guest && v.Guest.HasNetwork, &v.Guest.Network, wire.RatesTap)
	if d := hostRates(v.HasBlock, &v.Block, guest && v.Guest.HasDisk, &v.Guest.Disk, ""); d != nil {
		s.Disk = &wire.DiskRates{ReadBytesPerSec: d.RxBytesPerSec, WriteBytesPerSec: d.TxBytesPerSec, Source: d.Source}
	}
	s.GuestAgent = wire.GuestAgentStatus{Reachable: guest, LastError: v.Errors["guest"]}
	s.MetricsProblem = v.Errors["metrics_fifo"]
	if v.HasVCPU {
		s.VCPUs = int(v.VCPU.Count)
	}
	if c := &v.Cgroup; v.HasCgroup {
		s.Cgroup = &wire.CgroupFigures{CPUUsagePercent: c.CPUUsagePercent, ThrottledPercent: c.ThrottledPercent,
			CPUThrottledSeconds: c.CPUThrottledSeconds, CPUQuotaCores: c.CPUQuotaCores, MemoryCurrentBytes: c.MemoryCurrentBytes,
			MemoryPeakBytes: c.MemoryPeakBytes, MemoryLimitBytes: c.MemoryLimitBytes, MemoryLimitHits: c.EventsMax,
			MemoryHighHits: c.EventsHigh, OOMKills: c.EventsOOMKill, Epoch: c.Epoch}
	}
	if v.HasGuest {
		s.GuestAgent.LastSuccessMs = now.UnixMilli() - v.Guest.AgeMs
	}
	return s, cpu != wire.SourceNone || mem != wire.SourceNone
}

// hostRates picks the host side's rates when current (Firecracker's with a
// line at most firecrackerMaxAge old, or the other host source named
// other), else the guest's.
func hostRates(hasHost bool, host *samplepb.Rates, hasGuest bool, guest *samplepb.Rates, other string) *wire.NetworkRates {
	switch {
	case hasHost && host.Source == wire.RatesFirecracker && host.AgeMs <= firecrackerMaxAge.Milliseconds(),
		hasHost && other != "" && host.Source == other:
		return &wire.NetworkRates{RxBytesPerSec: host.RxBytesPerSec, TxBytesPerSec: host.TxBytesPerSec, Source: host.Source}
	case hasGuest:
		return &wire.NetworkRates{RxBytesPerSec: guest.RxBytesPerSec, TxBytesPerSec: guest.TxBytesPerSec, Source: wire.RatesGuest}
	}
	return nil
}

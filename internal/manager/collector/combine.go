package collector

import (
	"math"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// firecrackerMaxAge is how old Firecracker's newest metrics line may be
// before its rates are ignored. Firecracker flushes on its own every 60 s
// (more often when the host agent requests FlushMetrics), so an older line
// means the VMM stopped writing and the rates are frozen, not current.
const firecrackerMaxAge = 65 * time.Second

// combine assembles one round's sample from what answered: g from the guest
// agent, p from the host agent's process stats, st from its VM stats (each
// nil when absent or failed). It follows the integration guide's order:
// CPU and memory from the guest, else from the VMM process; network and
// disk from the host agent (Firecracker, else tap), else the guest's own.
// Stale and GuestAgent are the caller's.
func combine(id string, now time.Time, g *wire.GuestMetrics, p *wire.ProcessStats, st *wire.VMStats, vcpus int) wire.CombinedSample {
	s := wire.CombinedSample{VMID: id, TimestampMs: now.UnixMilli(), Source: wire.SourceNone, MemorySource: wire.SourceNone, VCPUs: vcpus}
	if s.VCPUs == 0 && g != nil {
		s.VCPUs = g.CPUCount
	}
	switch {
	case g != nil:
		s.Source, s.MemorySource = wire.SourceGuest, wire.SourceGuest
		s.CPUUsagePercent = ptr(g.CPUUsagePercent)
		s.MemoryUsagePercent = ptr(g.MemoryUsagePercent)
		s.MemoryUsedKB = ptr(g.MemoryUsedKB)
		s.MemoryTotalKB = ptr(g.MemoryTotalKB)
		s.MemoryAvailableKB = ptr(g.MemoryAvailableKB)
		s.UptimeSeconds = ptr(g.UptimeSeconds)
	case p != nil:
		s.Source, s.MemorySource = wire.SourceHost, wire.SourceHost
		s.CPUUsagePercent = ptr(hostCPUPercent(p, vcpus))
		s.MemoryUsedKB = ptr(p.MemoryRSSKB)
		s.UptimeSeconds = ptr(uint64(p.UptimeSeconds))
	}
	s.Network = hostNetwork(st)
	if s.Network == nil {
		s.Network = guestNetwork(g)
	}
	s.Disk = hostDisk(st)
	if s.Disk == nil {
		s.Disk = guestDisk(g)
	}
	if st != nil {
		s.Cgroup = cgroupFigures(st.Cgroup)
	}
	return s
}

// cgroupFigures are the combined sample's view of a host agent's cgroup
// stats (nil without them).
func cgroupFigures(c *wire.CgroupStats) *wire.CgroupFigures {
	if c == nil {
		return nil
	}
	return &wire.CgroupFigures{CPUUsagePercent: c.CPUUsagePercent, ThrottledPercent: c.ThrottledPercent,
		CPUThrottledSeconds: c.CPUThrottledSeconds, CPUQuotaCores: c.CPUQuotaCores, MemoryCurrentBytes: c.MemoryCurrentBytes,
		MemoryPeakBytes: c.MemoryPeakBytes, MemoryLimitBytes: c.MemoryLimitBytes, MemoryLimitHits: c.MemoryEvents.Max,
		MemoryHighHits: c.MemoryEvents.High, OOMKills: c.MemoryEvents.OOMKill, Epoch: c.Epoch}
}

// hostCPUPercent presents the VMM's CPU on the guest's scale, 0–100 % of
// the VM's vCPUs, like the guest's own figure. With fc_vcpu threads it is
// their time over their number (the VMM's device emulation threads are
// left out, as the guest cannot see them either). Without them (a VMM
// that does not name its threads) it is the whole process's time over the
// vCPUs the guest last reported (vcpus, 1 when never). Tick rounding and
// emulation can push either a little over 100, hence the cap.
func hostCPUPercent(p *wire.ProcessStats, vcpus int) float64 {
	if p.VCPUThreads > 0 {
		return math.Min(p.VCPUUsagePercent/float64(p.VCPUThreads), 100)
	}
	return math.Min(p.CPUUsagePercent/float64(max(vcpus, 1)), 100)
}

// hostNetwork takes the host agent's network rates when it has a rate
// window and, for Firecracker's figures, a recent line.
func hostNetwork(st *wire.VMStats) *wire.NetworkRates {
	if st == nil || st.Network == nil || st.Network.RxBytesPerSec == nil || st.Network.TxBytesPerSec == nil {
		return nil
	}
	src := st.Network.Source
	switch src {
	case wire.RatesFirecracker:
		if !firecrackerFresh(st) {
			return nil
		}
	case wire.RatesTap:
	default:
		return nil // a source this manager does not know how to label
	}
	return &wire.NetworkRates{RxBytesPerSec: *st.Network.RxBytesPerSec, TxBytesPerSec: *st.Network.TxBytesPerSec, Source: src}
}

// hostDisk takes Firecracker's block rates, the only host-side disk source.
func hostDisk(st *wire.VMStats) *wire.DiskRates {
	if st == nil || st.Block == nil || st.Block.ReadBytesPerSec == nil || st.Block.WriteBytesPerSec == nil || !firecrackerFresh(st) {
		return nil
	}
	return &wire.DiskRates{ReadBytesPerSec: *st.Block.ReadBytesPerSec, WriteBytesPerSec: *st.Block.WriteBytesPerSec,
		Source: wire.RatesFirecracker}
}

// firecrackerFresh compares the newest line with the host agent's own
// clock, so clock differences between host and manager do not matter.
func firecrackerFresh(st *wire.VMStats) bool {
	fc := st.Firecracker
	if fc == nil || fc.LastLineMs == 0 {
		return false
	}
	return st.TimestampMs-fc.LastLineMs <= firecrackerMaxAge.Milliseconds()
}

// guestNetwork sums the guest's interfaces (the agent leaves loopback out).
func guestNetwork(g *wire.GuestMetrics) *wire.NetworkRates {
	if g == nil || len(g.Network) == 0 {
		return nil
	}
	n := &wire.NetworkRates{Source: wire.RatesGuest}
	for _, i := range g.Network {
		n.RxBytesPerSec += i.RxBytesPerSec
		n.TxBytesPerSec += i.TxBytesPerSec
	}
	return n
}

// guestDisk sums the guest's whole disks.
func guestDisk(g *wire.GuestMetrics) *wire.DiskRates {
	if g == nil || len(g.Disks) == 0 {
		return nil
	}
	d := &wire.DiskRates{Source: wire.RatesGuest}
	for _, x := range g.Disks {
		d.ReadBytesPerSec += x.ReadBytesPerSec
		d.WriteBytesPerSec += x.WriteBytesPerSec
	}
	return d
}

func ptr[T any](v T) *T { return &v }

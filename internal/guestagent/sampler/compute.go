package sampler

import (
	"math"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
)

// compute turns the current reading, and the previous one when there is a
// window (prev may be nil), into the document the agent serves.
func (s *Sampler) compute(prev, cur *reading) wire.GuestMetrics {
	m := wire.GuestMetrics{
		TimestampMs:  cur.at.UnixMilli(),
		BootID:       cur.bootID,
		Hostname:     cur.hostname,
		Kernel:       cur.kernel,
		AgentVersion: s.opts.Version,
		CPUCount:     cur.cpus,
	}
	var window time.Duration
	if prev != nil {
		window = cur.at.Sub(prev.at)
		m.IntervalMs = window.Milliseconds()
	}
	if cur.statOK {
		if prev != nil && prev.statOK {
			usage, br := cpuWindow(prev.stat.Total, cur.stat.Total)
			m.CPUUsagePercent, m.CPU = usage, &br
		} else {
			m.CPU = &wire.CPUBreakdown{}
		}
		m.Processes = &wire.Processes{Running: cur.stat.ProcsRunning, Blocked: cur.stat.ProcsBlocked}
		if cur.procsOK {
			m.Processes.Total = uint64(cur.procs)
		}
	}
	if cur.memOK {
		setMemory(&m, cur.mem)
	}
	if cur.uptimeOK {
		m.UptimeSeconds = uint64(cur.uptime)
	}
	if cur.loadOK {
		m.Load = &wire.Load{Load1: cur.load.Load1, Load5: cur.load.Load5, Load15: cur.load.Load15}
	}
	var before *reading
	if prev != nil && window > 0 {
		before = prev
	}
	m.Network = network(before, cur, window)
	m.Disks = disks(before, cur, window)
	m.Filesystems = filesystems(cur.fs)
	m.Pressure = pressure(cur)
	for _, e := range cur.errs {
		m.Errors = append(m.Errors, e.source+": "+e.err.Error())
	}
	return m
}

// cpuWindow returns the usage and the per-mode breakdown, in percent, of the
// window between two readings of the aggregate CPU line. Idle and iowait are
// idle time; guest time is inside user and nice and is not added again. If
// any counter went backwards (a restored snapshot, a wrapped counter) or no
// time passed, the window reads as all zeros rather than a value outside
// [0, 100].
func cpuWindow(a, b procfs.CPUTimes) (float64, wire.CPUBreakdown) {
	prev := [8]uint64{a.User, a.Nice, a.System, a.Idle, a.IOWait, a.IRQ, a.SoftIRQ, a.Steal}
	cur := [8]uint64{b.User, b.Nice, b.System, b.Idle, b.IOWait, b.IRQ, b.SoftIRQ, b.Steal}
	var d [8]float64
	var total float64
	for i := range cur {
		if cur[i] < prev[i] {
			return 0, wire.CPUBreakdown{}
		}
		d[i] = float64(cur[i] - prev[i])
		total += d[i]
	}
	if total == 0 {
		return 0, wire.CPUBreakdown{}
	}
	pct := func(v float64) float64 { return round2(clampPercent(v / total * 100)) }
	br := wire.CPUBreakdown{User: pct(d[0]), Nice: pct(d[1]), System: pct(d[2]), Idle: pct(d[3]),
		IOWait: pct(d[4]), IRQ: pct(d[5]), SoftIRQ: pct(d[6]), Steal: pct(d[7])}
	return pct(total - d[3] - d[4]), br
}

func setMemory(m *wire.GuestMetrics, mem procfs.MemInfo) {
	avail := mem.Available()
	m.MemoryTotalKB = mem.TotalKB
	m.MemoryAvailableKB = avail
	m.MemoryUsedKB = mem.TotalKB - avail
	if mem.TotalKB > 0 {
		m.MemoryUsagePercent = round2(clampPercent(float64(m.MemoryUsedKB) / float64(mem.TotalKB) * 100))
	}
	m.Memory = &wire.MemoryDetail{FreeKB: mem.FreeKB, BuffersKB: mem.BuffersKB, CachedKB: mem.CachedKB,
		SwapTotalKB: mem.SwapTotalKB, SwapFreeKB: mem.SwapFreeKB}
}

// network lists every interface but loopback; rates need a previous reading.
func network(prev, cur *reading, window time.Duration) []wire.NetInterface {
	var before map[string]procfs.NetDev
	if prev != nil {
		before = make(map[string]procfs.NetDev, len(prev.net))
		for _, n := range prev.net {
			before[n.Name] = n
		}
	}
	out := make([]wire.NetInterface, 0, len(cur.net))
	for _, n := range cur.net {
		if n.Name == "lo" {
			continue
		}
		ni := wire.NetInterface{Interface: n.Name, RxBytes: n.RxBytes, TxBytes: n.TxBytes,
			RxPackets: n.RxPackets, TxPackets: n.TxPackets, RxErrors: n.RxErrors, TxErrors: n.TxErrors,
			RxDropped: n.RxDropped, TxDropped: n.TxDropped}
		if p, ok := before[n.Name]; ok {
			ni.RxBytesPerSec = perSec(p.RxBytes, n.RxBytes, window)
			ni.TxBytesPerSec = perSec(p.TxBytes, n.TxBytes, window)
		}
		out = append(out, ni)
	}
	return out
}

func disks(prev, cur *reading, window time.Duration) []wire.Disk {
	var before map[string]procfs.DiskStat
	if prev != nil {
		before = make(map[string]procfs.DiskStat, len(prev.disks))
		for _, d := range prev.disks {
			before[d.Name] = d
		}
	}
	out := make([]wire.Disk, 0, len(cur.disks))
	for _, d := range cur.disks {
		wd := wire.Disk{Device: d.Name, ReadBytes: d.ReadBytes(), WriteBytes: d.WriteBytes(),
			Reads: d.ReadsCompleted, Writes: d.WritesCompleted}
		if p, ok := before[d.Name]; ok {
			wd.ReadBytesPerSec = perSec(p.ReadBytes(), d.ReadBytes(), window)
			wd.WriteBytesPerSec = perSec(p.WriteBytes(), d.WriteBytes(), window)
		}
		out = append(out, wd)
	}
	return out
}

func filesystems(entries []fsEntry) []wire.Filesystem {
	out := make([]wire.Filesystem, 0, len(entries))
	for _, e := range entries {
		used := uint64(0)
		if e.usage.TotalBytes > e.usage.FreeBytes {
			used = e.usage.TotalBytes - e.usage.FreeBytes
		}
		out = append(out, wire.Filesystem{MountPoint: e.mount.MountPoint, FSType: e.mount.FSType,
			TotalBytes: e.usage.TotalBytes, UsedBytes: used, AvailableBytes: e.usage.AvailableBytes})
	}
	return out
}

// pressure reports PSI only when the kernel has all three resources.
func pressure(r *reading) *wire.Pressure {
	if !r.psiOK[0] || !r.psiOK[1] || !r.psiOK[2] {
		return nil
	}
	return &wire.Pressure{CPUSomeAvg10: r.psi[0].Some.Avg10,
		MemorySomeAvg10: r.psi[1].Some.Avg10, MemoryFullAvg10: r.psi[1].Full.Avg10,
		IOSomeAvg10: r.psi[2].Some.Avg10, IOFullAvg10: r.psi[2].Full.Avg10}
}

// perSec is the rate of a counter over the window; a counter that went
// backwards (interface re-created, wrap) gives 0 for this window.
func perSec(prev, cur uint64, window time.Duration) float64 {
	if cur < prev || window <= 0 {
		return 0
	}
	return round2(float64(cur-prev) / window.Seconds())
}

func clampPercent(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 100:
		return 100
	}
	return v
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

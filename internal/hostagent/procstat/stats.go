package procstat

import (
	"math"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// Stats is the host-side view of one process: the wire document the host
// agent serves, defined once in package wire.
type Stats = wire.ProcessStats

// windowStats computes usage between two readings of the same process.
func windowStats(prev, last Sample) Stats {
	st := snapshot(last)
	dt := last.At.Sub(prev.At).Seconds()
	if dt <= 0 {
		return lifetimeStats(last)
	}
	st.CPUUsagePercent = perCent(last.CPUTicks, prev.CPUTicks, dt)
	// The vCPU sum can shrink when a vCPU thread exits; that is no usage.
	st.VCPUUsagePercent = perCent(last.VCPUTicks, prev.VCPUTicks, dt)
	st.WindowMs = last.At.Sub(prev.At).Milliseconds()
	return st
}

// lifetimeStats computes usage averaged over the process's whole life, the
// best answer a single reading allows.
func lifetimeStats(s Sample) Stats {
	st := snapshot(s)
	if s.UptimeSec >= 0.01 {
		st.CPUUsagePercent = perCent(s.CPUTicks, 0, s.UptimeSec)
		st.VCPUUsagePercent = perCent(s.VCPUTicks, 0, s.UptimeSec)
	}
	st.WindowMs = int64(s.UptimeSec * 1000)
	return st
}

func snapshot(s Sample) Stats {
	return Stats{
		PID:              s.PID,
		MemoryRSSKB:      s.RSSBytes / 1024,
		Threads:          s.Threads,
		UptimeSeconds:    int64(s.UptimeSec),
		Comm:             s.Comm,
		VCPUThreads:      s.VCPUThreads,
		CPUSecondsTotal:  float64(s.CPUTicks) / userHZ,
		VCPUSecondsTotal: float64(s.VCPUTicks) / userHZ,
		TimestampMs:      s.At.UnixMilli(),
	}
}

// perCent turns a tick delta over sec seconds into percent of one core,
// rounded to 0.1 (ticks are 10 ms, so more digits would be noise).
func perCent(now, before uint64, sec float64) float64 {
	if now <= before {
		return 0
	}
	// ticks/USER_HZ seconds of CPU per second, times 100.
	p := float64(now-before) / userHZ / sec * 100
	return math.Round(p*10) / 10
}

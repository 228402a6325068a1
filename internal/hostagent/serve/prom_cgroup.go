package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// cgroupDescs are the figures of a VMM's cgroup, named as cAdvisor names a
// container's.
type cgroupDescs struct {
	cpu, cpuUser, cpuSystem, periods, throttled, throttledSec, quota *prometheus.Desc
	mem, peak, limit, high, anon, file, events                       *prometheus.Desc
	ioBytes, ioOps, pressure                                         *prometheus.Desc
}

func newCgroupDescs() cgroupDescs {
	return cgroupDescs{
		cpu:          desc("cgroup_cpu_usage_seconds_total", "CPU time of the VMM's cgroup (the jailer's, one per VM)."),
		cpuUser:      desc("cgroup_cpu_user_seconds_total", "User CPU time of the VMM's cgroup."),
		cpuSystem:    desc("cgroup_cpu_system_seconds_total", "System CPU time of the VMM's cgroup."),
		periods:      desc("cgroup_cpu_periods_total", "Enforcement periods of the cgroup's CPU quota that elapsed."),
		throttled:    desc("cgroup_cpu_throttled_periods_total", "Periods in which the cgroup used up its CPU quota and was throttled."),
		throttledSec: desc("cgroup_cpu_throttled_seconds_total", "Time the cgroup's tasks waited, throttled by its CPU quota."),
		quota:        desc("cgroup_cpu_quota_cores", "The cgroup's CPU quota over its period, in cores (absent without a quota)."),
		mem:          desc("cgroup_memory_usage_bytes", "Memory charged to the cgroup (memory.current, v1 memory.usage_in_bytes)."),
		peak:         desc("cgroup_memory_peak_bytes", "Most memory the cgroup was ever charged (memory.peak, v1 memory.max_usage_in_bytes)."),
		limit:        desc("cgroup_memory_limit_bytes", "The cgroup's memory limit (memory.max, v1 memory.limit_in_bytes); absent for none."),
		high:         desc("cgroup_memory_high_bytes", "The cgroup's memory.high (v1 soft limit); absent for none."),
		anon:         desc("cgroup_memory_anon_bytes", "Anonymous memory of the cgroup (v1 total_rss)."),
		file:         desc("cgroup_memory_file_bytes", "Page cache of the cgroup (v1 total_cache)."),
		events:       desc("cgroup_memory_events_total", "memory.events counters: high, max (v1 memory.failcnt), oom, oom_kill.", "event"),
		ioBytes:      desc("cgroup_io_bytes_total", "Bytes the cgroup read and wrote, by device and direction.", "device", "direction"),
		ioOps:        desc("cgroup_io_operations_total", "I/O operations of the cgroup, by device and direction.", "device", "direction"),
		pressure:     desc("cgroup_pressure_stalled_seconds_total", "Time some (or all, full) of the cgroup's tasks stalled on a resource (PSI, cgroup v2).", "resource", "kind"),
	}
}

func (d cgroupDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.cpu, d.cpuUser, d.cpuSystem, d.periods, d.throttled, d.throttledSec, d.quota,
		d.mem, d.peak, d.limit, d.high, d.anon, d.file, d.events, d.ioBytes, d.ioOps, d.pressure} {
		ch <- x
	}
}

func (d cgroupDescs) collect(e emitter, c *wire.CgroupStats) {
	if c == nil {
		return
	}
	e.counter(d.cpu, c.CPUUsageSeconds)
	e.counter(d.cpuUser, c.CPUUserSeconds)
	e.counter(d.cpuSystem, c.CPUSystemSeconds)
	e.counter(d.periods, float64(c.CPUPeriods))
	e.counter(d.throttled, float64(c.CPUThrottledPeriods))
	e.counter(d.throttledSec, c.CPUThrottledSeconds)
	if c.CPUQuotaCores != nil {
		e.gauge(d.quota, *c.CPUQuotaCores)
	}
	e.gauge(d.mem, float64(c.MemoryCurrentBytes))
	if c.MemoryPeakBytes != nil {
		e.gauge(d.peak, float64(*c.MemoryPeakBytes))
	}
	if c.MemoryLimitBytes != nil {
		e.gauge(d.limit, float64(*c.MemoryLimitBytes))
	}
	if c.MemoryHighBytes != nil {
		e.gauge(d.high, float64(*c.MemoryHighBytes))
	}
	e.gauge(d.anon, float64(c.MemoryAnonBytes))
	e.gauge(d.file, float64(c.MemoryFileBytes))
	ev := c.MemoryEvents
	for name, n := range map[string]uint64{"high": ev.High, "max": ev.Max, "oom": ev.OOM, "oom_kill": ev.OOMKill} {
		e.counter(d.events, float64(n), name)
	}
	for _, io := range c.IO {
		e.counter(d.ioBytes, float64(io.ReadBytes), io.Device, "read")
		e.counter(d.ioBytes, float64(io.WriteBytes), io.Device, "write")
		e.counter(d.ioOps, float64(io.ReadOps), io.Device, "read")
		e.counter(d.ioOps, float64(io.WriteOps), io.Device, "write")
	}
	for res, p := range c.Pressure {
		e.counter(d.pressure, p.SomeTotalSeconds, res, "some")
		if p.FullTotalSeconds != nil {
			e.counter(d.pressure, *p.FullTotalSeconds, res, "full")
		}
	}
}

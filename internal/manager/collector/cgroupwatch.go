package collector

import (
	"fmt"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// Defaults of the cpu_throttled event: a quarter of the periods throttled
// for half a minute.
const (
	DefaultThrottleThreshold = 25.0
	DefaultThrottleFor       = 30 * time.Second
)

// memoryLimitQuiet is how long after a memory_limit event the next one of
// the VM waits: a cgroup at its limit hits it many times a second.
const memoryLimitQuiet = 5 * time.Minute

// cgroupWatch turns a VMM cgroup's figures into events: cpu_throttled once
// an episode of sustained throttling, memory_limit when the cgroup reaches
// its limit (or memory.high) anew.
type cgroupWatch struct {
	threshold float64
	sustained time.Duration

	since     time.Time // when the current episode of throttling began; zero: none
	told      bool      // the episode's event was made
	seen      bool
	epoch     uint64
	hits      uint64 // memory limit hits (max) and high hits at the last round
	highs     uint64
	lastLimit time.Time
}

func (w *cgroupWatch) observe(f facts, ev func(typ, msg string, kv ...string)) {
	c := f.cgroup
	if c == nil {
		w.since, w.told = time.Time{}, false
		return
	}
	w.throttling(f.at, c, ev)
	if w.seen && c.Epoch == w.epoch && (c.MemoryLimitHits > w.hits || c.MemoryHighHits > w.highs) && f.at.Sub(w.lastLimit) >= memoryLimitQuiet {
		what, n := "its memory limit", c.MemoryLimitHits-w.hits
		if c.MemoryLimitHits == w.hits {
			what, n = "its memory.high", c.MemoryHighHits-w.highs
		}
		limit := "none"
		if c.MemoryLimitBytes != nil {
			limit = strconv.FormatUint(*c.MemoryLimitBytes, 10)
		}
		ev(wire.EventMemoryLimit, fmt.Sprintf("the VMM's cgroup reached %s %d time(s): it uses %s of %s bytes", what, n,
			strconv.FormatUint(c.MemoryCurrentBytes, 10), limit),
			"memory_bytes", strconv.FormatUint(c.MemoryCurrentBytes, 10), "limit_bytes", limit,
			"limit_hits", strconv.FormatUint(c.MemoryLimitHits, 10), "high_hits", strconv.FormatUint(c.MemoryHighHits, 10),
			"oom_kills", strconv.FormatUint(c.OOMKills, 10))
		w.lastLimit = f.at
	}
	w.seen, w.epoch, w.hits, w.highs = true, c.Epoch, c.MemoryLimitHits, c.MemoryHighHits
}

// throttling makes one cpu_throttled event for each episode in which at
// least threshold percent of the periods were throttled for sustained.
func (w *cgroupWatch) throttling(at time.Time, c *wire.CgroupFigures, ev func(typ, msg string, kv ...string)) {
	if w.sustained < 0 {
		return
	}
	if c.ThrottledPercent < w.threshold {
		w.since, w.told = time.Time{}, false
		return
	}
	if w.since.IsZero() {
		w.since = at
	}
	if w.told || at.Sub(w.since) < w.sustained {
		return
	}
	w.told = true
	quota := "none"
	if c.CPUQuotaCores != nil {
		quota = strconv.FormatFloat(*c.CPUQuotaCores, 'f', -1, 64)
	}
	ev(wire.EventCPUThrottled, fmt.Sprintf("the VMM's cgroup was throttled in %.0f%% of its CPU periods for %s (quota %s cores)",
		c.ThrottledPercent, at.Sub(w.since).Round(time.Second), quota),
		"throttled_percent", strconv.FormatFloat(c.ThrottledPercent, 'f', 2, 64), "quota_cores", quota,
		"throttled_seconds", strconv.FormatFloat(c.CPUThrottledSeconds, 'f', 3, 64), "since_ms", strconv.FormatInt(w.since.UnixMilli(), 10))
}

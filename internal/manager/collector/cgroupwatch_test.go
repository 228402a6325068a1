package collector

import (
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestCgroupEvents: one cpu_throttled event an episode of throttling held
// past the threshold's time, none for a short burst; memory_limit when the
// limit is reached anew, quiet for a while after, none across an epoch.
func TestCgroupEvents(t *testing.T) {
	w := newWatch(&Options{ThrottleThreshold: 25, ThrottleFor: 30 * time.Second, ClockSkew: -1, CrossCheckAfter: -1})
	t0 := time.Unix(1_800_000_000, 0)
	limit := uint64(256 << 20)
	round := func(sec int, throttled float64, hits uint64, epoch uint64) []wire.Event {
		return w.observe("vm", facts{at: t0.Add(time.Duration(sec) * time.Second), source: wire.SourceVCPU, memSource: wire.SourceHost,
			cgroup: &wire.CgroupFigures{ThrottledPercent: throttled, MemoryLimitBytes: &limit, MemoryCurrentBytes: limit, MemoryLimitHits: hits, Epoch: epoch}})
	}
	count := func(evs []wire.Event, typ string) int {
		n := 0
		for _, e := range evs {
			if e.Type == typ {
				n++
			}
		}
		return n
	}
	var all []wire.Event
	for s := 0; s < 20; s++ { // a burst shorter than 30 s
		all = append(all, round(s, 80, 0, 0)...)
	}
	all = append(all, round(20, 5, 0, 0)...)
	if n := count(all, wire.EventCPUThrottled); n != 0 {
		t.Fatalf("a 20 s burst made %d cpu_throttled events", n)
	}
	all = nil
	for s := 30; s < 120; s++ { // an episode of 90 s
		all = append(all, round(s, 60, 0, 0)...)
	}
	if n := count(all, wire.EventCPUThrottled); n != 1 {
		t.Fatalf("a 90 s episode made %d cpu_throttled events, want 1", n)
	}
	round(120, 0, 0, 0)
	all = nil
	for s := 121; s < 160; s++ { // a second episode
		all = append(all, round(s, 30, 0, 0)...)
	}
	if n := count(all, wire.EventCPUThrottled); n != 1 {
		t.Errorf("a second episode made %d events, want 1", n)
	}
	evs := round(161, 0, 3, 0)
	if count(evs, wire.EventMemoryLimit) != 1 || evs[0].Detail["limit_bytes"] != "268435456" || evs[0].Detail["limit_hits"] != "3" {
		t.Fatalf("the limit reached: %+v", evs)
	}
	if n := count(round(162, 0, 9, 0), wire.EventMemoryLimit); n != 0 {
		t.Errorf("a second hit within the quiet time: %d events", n)
	}
	if n := count(round(170, 0, 1, 1), wire.EventMemoryLimit); n != 0 {
		t.Errorf("a new epoch (counters from 0) made %d events", n)
	}
	if n := count(round(161+6*60, 0, 2, 1), wire.EventMemoryLimit); n != 1 {
		t.Errorf("a hit after the quiet time: %d events", n)
	}
}

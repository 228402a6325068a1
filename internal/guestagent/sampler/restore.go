package sampler

import (
	"errors"
	"io/fs"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// minClockStep is the smallest step of the wall clock against the monotonic
// clock that counts: NTP slews smaller errors instead of stepping.
const minClockStep = time.Second

// stepHold is how long a step stays in the samples after the window it
// happened in: readers that poll about once an interval (the host agent,
// then the manager, on clocks of their own) can miss one sample, and a
// step shown once would be lost with it.
const stepHold = 10 * time.Second

// restore is the agent's own evidence of snapshot restores: the VMClock
// device's generation counter, and steps of the wall clock.
type restore struct {
	path string // of the VMClock page; "" when disabled
	now  func() time.Time

	clock, prevClock procfs.VMClock
	hasClock         bool // clock was read this time
	hadClock         bool // prevClock was read
	detected         uint64
	lastMs           int64

	prevAt    time.Time     // wall and monotonic reading of the previous sample
	step      time.Duration // the latest step, for stepHold after stepAt
	stepAt    time.Time
	stepCount uint64
}

func init() {
	register(func(o *Options) figure { return &restore{path: o.VMClockPath, now: o.Now} })
}

// observeStep takes the wall clock's step against the monotonic clock over
// the window ending at: one of minClockStep or more is counted and shown
// until stepHold after it.
func (f *restore) observeStep(at time.Time, step time.Duration) {
	if f.step != 0 && at.Sub(f.stepAt) >= stepHold {
		f.step = 0
	}
	if step >= minClockStep || step <= -minClockStep {
		f.step, f.stepAt = step, at
		f.stepCount++
	}
}

func (f *restore) read(fsys procfs.FS) []sourceErr {
	at := f.now()
	var step time.Duration
	if !f.prevAt.IsZero() {
		// Round(0) drops the monotonic reading: wall time against monotonic.
		step = at.Round(0).Sub(f.prevAt.Round(0)) - at.Sub(f.prevAt)
	}
	f.observeStep(at, step)
	f.prevAt = at

	f.prevClock, f.hadClock = f.clock, f.hasClock
	f.hasClock = false
	if f.path == "" {
		return nil
	}
	c, err := fsys.VMClock(f.path)
	if errors.Is(err, fs.ErrNotExist) { // no VMClock device: most guests today
		return nil
	}
	if err != nil {
		return failed("vmclock", err)
	}
	f.clock, f.hasClock = c, true
	if f.hadClock && c.HasGeneration && f.prevClock.HasGeneration && c.Generation != f.prevClock.Generation {
		f.detected++
		f.lastMs = at.UnixMilli()
	}
	return nil
}

func (f *restore) fill(m *wire.GuestMetrics, _ window) {
	r := &wire.GuestRestore{Detected: f.detected, LastMs: f.lastMs, ClockStepMs: f.step.Milliseconds(), ClockSteps: f.stepCount}
	if f.hasClock {
		d := f.clock.DisruptionMarker
		r.ClockDisruption = &d
		if f.clock.HasGeneration {
			g := f.clock.Generation
			r.VMGeneration = &g
		}
	}
	m.Restore = r
}

func (f *restore) prom(w *promtext.Writer) {
	w.Family("guest_agent_restores_detected_total", "counter", "Restores from a snapshot the guest agent saw since it started (the VMClock generation counter changed).")
	w.SampleUint(f.detected)
	w.Family("guest_agent_clock_steps_total", "counter", "Steps of a second or more of the wall clock against the monotonic clock since the guest agent started.")
	w.SampleUint(f.stepCount)
	w.Family("guest_agent_clock_step_seconds", "gauge", "The wall clock's step against the monotonic clock during the last sampling window; 0 when under a second.")
	w.Sample(f.step.Seconds())
	if f.hasClock {
		w.Family("guest_agent_vmclock_disruption_marker", "gauge", "The VMClock device's disruption marker: changes when the clock was disrupted (migration, restore).")
		w.SampleUint(f.clock.DisruptionMarker)
		if f.clock.HasGeneration {
			w.Family("guest_agent_vmclock_generation", "gauge", "The VMClock device's VM generation counter: changes on every restore from a snapshot.")
			w.SampleUint(f.clock.Generation)
		}
	}
}

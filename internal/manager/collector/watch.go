package collector

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// Defaults of Options' event thresholds.
const (
	DefaultClockSkew       = 5 * time.Second
	DefaultCrossCheckAfter = time.Minute
)

// Cross-check limits: how far the guest's own figures and the host's view
// of them may differ before it counts. CPU: percentage points of the VM's
// vCPUs (sampling windows that do not line up, and steal, explain a few);
// memory: points of the total (the balloon driver reports a moment
// earlier or later than the guest agent reads).
const (
	crossCPUPoints = 30
	crossMemPoints = 20
)

// facts are what one round tells of a VM, for its events.
type facts struct {
	at        time.Time
	source    string // CPU's
	memSource string
	guest     bool // the guest agent answered this round: the fields below hold
	bootID    string
	uptime    uint64
	oomKills  *uint64
	started   int64 // agent_started_ms
	skewMs    int64 // guest clock minus the reader's; valid with hasSkew
	hasSkew   bool
	guestMs   int64 // when the guest agent sampled (its clock): one sample may be read twice
	// The guest agent's own evidence of restores: the restores it saw
	// (VMClock's generation counter), that counter, and its wall clock's
	// step against its monotonic clock in its last window.
	restores     *uint64
	vmGeneration *uint64
	clockStepMs  int64
	guestCPU     float64
	guestUsed    float64 // share of total, 0–1
	// The host's view of the guest, when current: the vCPU threads' CPU
	// and the balloon's memory use.
	hasVCPU, hasBalloon  bool
	vcpuCPU, balloonUsed float64
	balloonOOM           *uint64
	cgroup               *wire.CgroupFigures // the VMM's cgroup, when its host agent reads one
}

// checks are the figures behind the clock and cross-check events, for the
// sample (nil when the round has none: the guest did not answer).
func (f facts) checks() *wire.SampleChecks {
	if !f.guest {
		return nil
	}
	c := &wire.SampleChecks{}
	if f.hasSkew {
		skew := f.skewMs
		c.ClockSkewMs = &skew
	}
	if f.hasVCPU {
		v := math.Round(f.vcpuCPU*10) / 10
		c.HostCPUPercent = &v
	}
	if f.hasBalloon {
		v := math.Round(f.balloonUsed*1000) / 10
		c.HostMemoryUsagePercent = &v
	}
	if c.ClockSkewMs == nil && c.HostCPUPercent == nil && c.HostMemoryUsagePercent == nil {
		return nil
	}
	return c
}

// watch remembers a VM's previous facts and turns changes into events.
type watch struct {
	seen                bool
	source, memSource   string
	bootID              string
	uptime              uint64
	oom                 uint64
	hasOOM              bool
	started             int64
	balloonOOM          uint64
	hasBalloonOOM       bool
	skewed              bool
	restores            uint64
	hasRestores         bool
	stepAt              int64     // guestMs of the sample whose clock step was judged
	stepMs              int64     // and that step
	cpuSince, memSince  time.Time // when the current disagreement began; zero: none
	cpuTold, memTold    bool
	clockSkew, crossFor time.Duration
	cg                  cgroupWatch
}

func newWatch(o *Options) watch {
	return watch{clockSkew: o.ClockSkew, crossFor: o.CrossCheckAfter,
		cg: cgroupWatch{threshold: o.ThrottleThreshold, sustained: o.ThrottleFor}}
}

// observe compares f with what was seen before and returns the events it
// makes.
func (w *watch) observe(vmID string, f facts) []wire.Event {
	var out []wire.Event
	ev := func(typ, msg string, kv ...string) {
		e := wire.Event{VMID: vmID, Type: typ, TimestampMs: f.at.UnixMilli(), Message: msg}
		if len(kv) > 0 {
			e.Detail = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				e.Detail[kv[i]] = kv[i+1]
			}
		}
		out = append(out, e)
	}
	if w.seen && (f.source != w.source || f.memSource != w.memSource) {
		ev(wire.EventSourceChange, fmt.Sprintf("CPU now from %s (was %s), memory from %s (was %s)", f.source, w.source, f.memSource, w.memSource),
			"cpu_from", w.source, "cpu_to", f.source, "memory_from", w.memSource, "memory_to", f.memSource)
	}
	w.seen, w.source, w.memSource = true, f.source, f.memSource
	if f.guest {
		w.guestEvents(f, ev)
	} else if f.balloonOOM != nil {
		// Without the guest agent, the balloon driver's OOM count is the
		// only word of the guest's OOM killer.
		if w.hasBalloonOOM && *f.balloonOOM > w.balloonOOM {
			n := *f.balloonOOM - w.balloonOOM
			ev(wire.EventOOMKill, fmt.Sprintf("the guest's OOM killer killed %d process(es) (balloon statistics)", n),
				"oom_kills", strconv.FormatUint(*f.balloonOOM, 10), "new", strconv.FormatUint(n, 10), "from", "balloon")
		}
	}
	if f.balloonOOM != nil {
		w.balloonOOM, w.hasBalloonOOM = *f.balloonOOM, true
	}
	w.crossCheck(f, ev)
	w.cg.observe(f, ev)
	return out
}

func (w *watch) guestEvents(f facts, ev func(typ, msg string, kv ...string)) {
	sameBoot := w.bootID != "" && f.bootID == w.bootID
	sameAgent := sameBoot && (w.started == 0 || f.started == 0 || f.started == w.started)
	restored := false
	switch {
	case w.bootID != "" && f.bootID != w.bootID:
		ev(wire.EventReboot, "the guest rebooted: a new boot_id", "boot_id", f.bootID, "previous_boot_id", w.bootID,
			"uptime_seconds", strconv.FormatUint(f.uptime, 10))
		w.hasOOM = false // its counters restarted
	case sameBoot && f.uptime+2 < w.uptime:
		// Same boot, time gone backwards: the guest was put back to an
		// earlier state. Its counters restart from there: a new epoch.
		ev(wire.EventRestore, fmt.Sprintf("the guest's uptime went back from %d s to %d s with the same boot_id: restored from a snapshot", w.uptime, f.uptime),
			"uptime_seconds", strconv.FormatUint(f.uptime, 10), "previous_uptime_seconds", strconv.FormatUint(w.uptime, 10), "boot_id", f.bootID,
			"from", "uptime")
		w.hasOOM, restored = false, true
	case sameBoot && w.started != 0 && f.started != 0 && f.started != w.started:
		ev(wire.EventAgentRestart, "the guest agent restarted", "agent_started_ms", strconv.FormatInt(f.started, 10))
	}
	if f.restores != nil {
		if !restored && sameAgent && w.hasRestores && *f.restores > w.restores {
			restored = true
			kv := []string{"from", "vmclock", "restores_detected", strconv.FormatUint(*f.restores, 10)}
			if f.vmGeneration != nil {
				kv = append(kv, "vm_generation", strconv.FormatUint(*f.vmGeneration, 10))
			}
			ev(wire.EventRestore, "the guest agent saw the VMClock generation counter change: restored from a snapshot", kv...)
		}
		w.restores, w.hasRestores = *f.restores, true
	}
	w.clockStep(f, sameAgent, restored, ev)
	if f.oomKills != nil {
		if w.hasOOM && *f.oomKills > w.oom {
			n := *f.oomKills - w.oom
			ev(wire.EventOOMKill, fmt.Sprintf("the guest's OOM killer killed %d process(es)", n),
				"oom_kills", strconv.FormatUint(*f.oomKills, 10), "new", strconv.FormatUint(n, 10), "from", "guest")
		}
		w.oom, w.hasOOM = *f.oomKills, true
	}
	if f.hasSkew && w.clockSkew > 0 {
		skew := time.Duration(f.skewMs) * time.Millisecond
		switch {
		case !w.skewed && (skew > w.clockSkew || skew < -w.clockSkew):
			w.skewed = true
			ev(wire.EventClockSkew, fmt.Sprintf("the guest's clock is %s off the host's", skew.Round(time.Millisecond)),
				"skew_ms", strconv.FormatInt(f.skewMs, 10), "threshold_ms", strconv.FormatInt(w.clockSkew.Milliseconds(), 10))
		case w.skewed && skew < w.clockSkew/2 && skew > -w.clockSkew/2:
			w.skewed = false // back in step: a later drift is a new event
		}
	}
	w.bootID, w.uptime = f.bootID, f.uptime
	if f.started != 0 {
		w.started = f.started
	}
}

// clockStep reports a restore told by the guest's clock: put forward by
// more than the skew threshold within one of the guest agent's windows, to
// within the threshold of the reader's clock. That is a guest whose clock
// stood still while it was saved (a snapshot restored, or a VM paused for
// long) and was then put right. A clock set ahead by hand lands away from
// the reader's, and one put back is no restore.
// stepSeenFor bounds how long after a clock step the guest agent may
// still show it (its stepHold, 10 s, and readers' delays): the same step
// within it is the same step.
const stepSeenFor = 30 * time.Second

func (w *watch) clockStep(f facts, sameAgent, restored bool, ev func(typ, msg string, kv ...string)) {
	limit := w.clockSkew.Milliseconds()
	// The guest agent shows a step for several samples (stepHold): the
	// same step seen again within that time is one step.
	if restored || !sameAgent || limit <= 0 || f.clockStepMs <= limit || !f.hasSkew ||
		(f.clockStepMs == w.stepMs && f.guestMs >= w.stepAt && f.guestMs-w.stepAt < stepSeenFor.Milliseconds()) {
		return
	}
	w.stepAt, w.stepMs = f.guestMs, f.clockStepMs
	if f.skewMs > limit || f.skewMs < -limit {
		return
	}
	step := (time.Duration(f.clockStepMs) * time.Millisecond).Round(time.Millisecond)
	ev(wire.EventRestore, fmt.Sprintf("the guest's clock was put forward %s to the host's time: restored from a snapshot (or paused that long) and its clock corrected", step),
		"from", "clock_step", "clock_step_ms", strconv.FormatInt(f.clockStepMs, 10), "skew_ms", strconv.FormatInt(f.skewMs, 10))
}

// crossCheck reports a sustained disagreement between the guest's figures
// and the host's view of them, once per disagreement.
func (w *watch) crossCheck(f facts, ev func(typ, msg string, kv ...string)) {
	if w.crossFor <= 0 {
		return
	}
	check := func(ok, differ bool, since *time.Time, told *bool, report func()) {
		if !ok || !differ {
			*since, *told = time.Time{}, false
			return
		}
		if since.IsZero() {
			*since = f.at
		}
		if !*told && f.at.Sub(*since) >= w.crossFor {
			*told = true
			report()
		}
	}
	cpuGap := f.guestCPU - f.vcpuCPU
	check(f.guest && f.hasVCPU, math.Abs(cpuGap) > crossCPUPoints, &w.cpuSince, &w.cpuTold, func() {
		ev(wire.EventCrossCheck, fmt.Sprintf("the guest reports %.0f %% CPU, its vCPU threads used %.0f %%, for %s", f.guestCPU, f.vcpuCPU, w.crossFor),
			"figure", "cpu", "guest", strconv.FormatFloat(f.guestCPU, 'f', 1, 64), "host", strconv.FormatFloat(f.vcpuCPU, 'f', 1, 64))
	})
	memGap := (f.guestUsed - f.balloonUsed) * 100
	check(f.guest && f.hasBalloon, math.Abs(memGap) > crossMemPoints, &w.memSince, &w.memTold, func() {
		ev(wire.EventCrossCheck, fmt.Sprintf("the guest reports %.0f %% of its memory used, its balloon driver %.0f %%, for %s", f.guestUsed*100, f.balloonUsed*100, w.crossFor),
			"figure", "memory", "guest", strconv.FormatFloat(f.guestUsed*100, 'f', 1, 64), "host", strconv.FormatFloat(f.balloonUsed*100, 'f', 1, 64))
	})
}

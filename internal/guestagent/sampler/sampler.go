// Package sampler reads the guest's /proc and /sys every interval, turns the
// counters into percentages and rates over the last complete window, and
// keeps the result pre-rendered as JSON and Prometheus text, so the guest
// agent answers every request from memory without touching the kernel.
// Each source of figures is a file of its own (see figure).
package sampler

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// Options configures a Sampler. FS is required; the rest have defaults.
type Options struct {
	FS      procfs.FS
	Version string // reported as agent_version

	// Now returns the current time; its monotonic reading measures windows.
	// Default time.Now.
	Now func() time.Time
	// StatFS returns the usage of a mounted filesystem. Default procfs.StatFS.
	StatFS func(path string) (procfs.FSUsage, error)
	// VMClockPath is the VMClock device read for restores; "" reads none.
	// Default: none (the agent passes procfs.DefaultVMClockPath).
	VMClockPath string
	// StatFSTimeout bounds one StatFS call; a mount that exceeds it (a dead
	// network filesystem) is skipped until the call returns. Default 1s.
	StatFSTimeout time.Duration
}

// Snapshot is one published sample: the document and both renderings.
// It is never modified after publication.
type Snapshot struct {
	Metrics wire.GuestMetrics
	JSON    []byte
	Prom    []byte
}

// Sampler produces Snapshots. Sample must not be called concurrently with
// itself; Latest may be called from any goroutine at any time.
type Sampler struct {
	opts    Options
	figures []figure
	started time.Time // when the Sampler was made: the agent's start
	prevAt  time.Time // when the previous sample was read; zero before the first
	bootID  string    // of the previous sample
	latest  atomic.Pointer[Snapshot]
}

// New returns a Sampler that has not sampled yet.
func New(opts Options) *Sampler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatFS == nil {
		opts.StatFS = procfs.StatFS
	}
	if opts.StatFSTimeout <= 0 {
		opts.StatFSTimeout = time.Second
	}
	s := &Sampler{opts: opts, started: opts.Now()}
	for _, f := range figures {
		s.figures = append(s.figures, f(&s.opts))
	}
	return s
}

// Latest returns the newest Snapshot, or nil before the first Sample.
func (s *Sampler) Latest() *Snapshot { return s.latest.Load() }

// Sample reads the kernel once, computes the window since the previous
// Sample and publishes the result. The first Sample has no window: its
// percentages and rates are 0 and its interval_ms is absent; nor has one
// after a reboot (a new boot_id: the counters restarted).
func (s *Sampler) Sample() *Snapshot {
	at := s.opts.Now()
	bootID, bootErr := s.opts.FS.BootID()
	errs := failed("boot_id", bootErr)
	for _, f := range s.figures {
		errs = append(errs, f.read(s.opts.FS)...)
	}
	took := s.opts.Now().Sub(at)

	m := wire.GuestMetrics{TimestampMs: at.UnixMilli(), BootID: bootID, AgentVersion: s.opts.Version,
		ClockUnixMs: at.UnixMilli(), AgentStartedMs: s.started.UnixMilli()}
	w := window{ok: !s.prevAt.IsZero() && bootID == s.bootID}
	if w.ok {
		w.d = at.Sub(s.prevAt)
		m.IntervalMs = w.d.Milliseconds()
		w.ok = w.d > 0
	}
	for _, f := range s.figures {
		f.fill(&m, w)
	}
	for _, e := range errs {
		m.Errors = append(m.Errors, e.source+": "+e.err.Error())
	}
	s.prevAt, s.bootID = at, bootID

	snap := &Snapshot{Metrics: m}
	// Size the renderings like the last ones, so they are allocated once
	// instead of grown by doubling.
	jsonCap, promCap := 2048, 16384
	if last := s.latest.Load(); last != nil {
		jsonCap, promCap = len(last.JSON)+512, len(last.Prom)+2048
	}
	snap.JSON = snap.Metrics.AppendJSON(make([]byte, 0, jsonCap))
	pw := promtext.Writer{B: make([]byte, 0, promCap)}
	for _, f := range s.figures {
		f.prom(&pw)
	}
	agentFamilies(&pw, &snap.Metrics, at, took, len(errs))
	snap.Prom = pw.B
	s.latest.Store(snap)
	return snap
}

// Run samples every interval until ctx ends. It does not take the first
// sample; call Sample before Run when one is wanted at once.
func (s *Sampler) Run(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, func() { s.Sample() })
}

// agentFamilies are the agent's own figures and the headline percentages.
func agentFamilies(w *promtext.Writer, m *wire.GuestMetrics, at time.Time, took time.Duration, errs int) {
	w.Family("node_time_seconds", "gauge", "System time in seconds since epoch (1970).")
	w.Sample(float64(at.UnixMilli()) / 1000)
	w.Family("guest_agent_build_info", "gauge", "The guest agent's version; always 1.")
	w.Sample(1, "version", m.AgentVersion)
	w.Family("guest_agent_cpu_usage_percent", "gauge", "Share of CPU time not idle over the last sampling window, in percent.")
	w.Sample(m.CPUUsagePercent)
	w.Family("guest_agent_memory_usage_percent", "gauge", "Memory in use (total minus available), in percent of total.")
	w.Sample(m.MemoryUsagePercent)
	w.Family("guest_agent_sample_window_seconds", "gauge", "Length of the window the percentages and rates cover.")
	w.Sample(float64(m.IntervalMs) / 1000)
	w.Family("guest_agent_sample_duration_seconds", "gauge", "Time the last sample took to read the kernel.")
	w.Sample(took.Seconds())
	w.Family("guest_agent_source_errors", "gauge", "Sources that could not be read in the last sample; 0 when all were read.")
	w.SampleUint(uint64(errs))
}

package collector

import (
	"context"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// worker polls one VM. Its fields below the mutexes belong to the poller
// goroutine alone, which runs one round at a time.
type worker struct {
	c      *Collector
	id     string
	phase  time.Duration
	cancel context.CancelFunc

	// pubMu orders delivery against stop: once stop returns, no sample of
	// this VM reaches OnSample. It is held while OnSample runs, so OnSample
	// may call Latest but not Forget.
	pubMu  sync.Mutex
	closed bool

	mu     sync.Mutex // guards target and the latest sample
	target Target
	sample wire.CombinedSample
	has    bool
	dataAt time.Time // when the newest CPU and memory figures were fetched

	guest      guestState
	watch      watch     // events
	vcpus      int       // the guest's cpu_count as last reported
	conn       guestConn // to the guest agent
	lastAttach time.Time // latest attach attempt at the host agent
}

func newWorker(c *Collector, t Target, cancel context.CancelFunc) *worker {
	return &worker{c: c, id: t.ID, phase: Phase(t.ID, c.opt.PollInterval), cancel: cancel, target: t, watch: newWatch(&c.opt)}
}

func (w *worker) setTarget(t Target) {
	w.mu.Lock()
	w.target = t
	w.mu.Unlock()
}

func (w *worker) currentTarget() Target {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target
}

func (w *worker) latest() (wire.CombinedSample, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sample, w.dataAt, w.has
}

// stop ends the poller and any delivery of its samples.
func (w *worker) stop() {
	w.pubMu.Lock()
	w.closed = true
	w.pubMu.Unlock()
	w.cancel()
}

// poll runs one round: the guest agent (unless backed off) and the host
// agent's stats side by side, then the host agent's process stats when the
// guest gave nothing. The round's sample is published unless the collector
// is shutting down, when half a round is no sample.
func (w *worker) poll(ctx context.Context, slot time.Time) {
	t := w.currentTarget()
	var stats *wire.VMStats
	var statsDone chan struct{}
	if t.HostAgentURL != "" {
		statsDone = make(chan struct{})
		go func() {
			defer close(statsDone)
			stats = w.fetchStats(ctx, t)
		}()
	}
	g := w.pollGuest(ctx, t, slot)
	var proc *wire.ProcessStats
	if g == nil && t.HostAgentURL != "" && t.VMMPID > 0 {
		proc = w.fetchProcess(ctx, t)
	}
	if statsDone != nil {
		<-statsDone
	}
	if ctx.Err() != nil {
		return
	}
	now := w.c.opt.Now()
	if g != nil && g.CPUCount > 0 {
		w.vcpus = g.CPUCount
	}
	s := combine(t.ID, now, g, proc, stats, w.vcpus)
	s.GuestAgent = w.guest.status
	f := facts{at: now, source: s.Source, memSource: s.MemorySource, guest: g != nil, cgroup: s.Cgroup}
	if g != nil {
		f.bootID, f.uptime, f.oomKills, f.started, f.guestCPU = g.BootID, g.UptimeSeconds, g.OOMKills, g.AgentStartedMs, g.CPUUsagePercent
		if g.ClockUnixMs != 0 {
			f.skewMs, f.hasSkew = g.ClockUnixMs-now.UnixMilli(), true
		}
		f.guestMs = g.TimestampMs
		if r := g.Restore; r != nil {
			n := r.Detected
			f.restores, f.vmGeneration, f.clockStepMs = &n, r.VMGeneration, r.ClockStepMs
		}
	}
	s.Checks = f.checks()
	w.publish(s, g != nil || proc != nil, now)
	w.c.emit(w.watch.observe(t.ID, f))
}

// publish stores s as the latest sample and hands it to OnSample. fresh
// says s carries CPU and memory figures taken at now.
func (w *worker) publish(s wire.CombinedSample, fresh bool, now time.Time) {
	w.pubMu.Lock()
	defer w.pubMu.Unlock()
	if w.closed {
		return
	}
	w.mu.Lock()
	if fresh {
		w.dataAt = now
	}
	s.Stale = w.c.stale(w.dataAt, now)
	w.sample, w.has = s, true
	w.mu.Unlock()
	if w.c.opt.OnSample != nil {
		w.c.opt.OnSample(s)
	}
}

// Package collector is the manager's poller: every poll interval it reads
// each host agent once (GET /v1/samples: every VM on that host) and each
// VM registered without a host agent directly from its guest agent (with
// the per-VM host agent calls as the fallback), and combines what it got
// into one wire.CombinedSample per VM, each figure group from its best
// source, with the events the changes tell (restore, source_change, ...). A
// slow or dead host or VM delays no other: each has its own schedule,
// bounded only by a shared limit on polls in flight.
package collector

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// Target is one VM as the registry knows it. Empty fields switch sources
// off: without GuestIP the guest agent is not asked, without HostAgentURL
// the host agent is not, and without VMMPID there is no process fallback.
type Target struct {
	ID           string
	GuestIP      string // IP literal of the guest agent
	GuestPort    int    // 0 means wire.DefaultGuestPort
	HostAgentURL string // base URL, e.g. http://127.0.0.1:9091
	VMMPID       int
	MetricsFIFO  string // passed on when (re-)attaching to the host agent
	APISocket    string // likewise
}

// PollResult describes one HTTP request the collector made, for the
// manager's own metrics.
type PollResult struct {
	VMID   string // "" for KindSamples
	HostID string // KindSamples: the host agent
	// Kind is what was asked: KindGuest, KindProcess, KindStats, KindAttach
	// or KindSamples.
	Kind    string
	Latency time.Duration
	// Reason is empty on success, else one of agentclient's Reason
	// constants.
	Reason string
	Status int   // HTTP status when one was received, else 0
	Err    error // nil on success
}

// What a PollResult asked.
const (
	KindGuest   = "guest"   // the guest agent's /metrics
	KindProcess = "process" // the host agent's /metrics/process-stats
	KindStats   = "stats"   // the host agent's /v1/vms/{id}/stats
	KindAttach  = "attach"  // the host agent's POST /v1/vms
	KindSamples = "samples" // the host agent's GET /v1/samples: every VM of a host
)

// Options configures a Collector. Only Targets is required.
type Options struct {
	// Targets returns the VMs to poll. It is called once per interval, so a
	// change (a new guest_ip, say) takes effect within about two intervals;
	// on error the previous set is kept (a database blip does not stop
	// polling). A VM's first poll comes within one interval of its first
	// listing, at its phase.
	Targets func(ctx context.Context) ([]Target, error)
	// PollInterval is how often each VM is polled; default 1s.
	PollInterval time.Duration
	// Concurrency bounds the VMs being polled at once; default 512. A poll
	// mostly waits on the network, so the bound is there to cap sockets and
	// memory, not CPU: by Little's law, N VMs polled every interval need
	// N × latency / interval slots, and too few slots delay every VM as soon
	// as latency grows under load (10,000 VMs at 1s with 64 slots fall
	// behind once a poll averages 6.4 ms). Guests that time out hold a slot
	// for Timeout, so the bound must also leave room for those.
	Concurrency int
	// Timeout bounds each request; default 0.8 × PollInterval.
	Timeout time.Duration
	// MaxBody caps a response body; a larger one fails the poll. Default 1 MiB.
	MaxBody int64
	// GuestBackoffMax is the longest pause between polls of a failing guest
	// agent; default 30 × PollInterval, at most 30s. A returning agent is
	// noticed within GuestBackoffMax plus one interval.
	GuestBackoffMax time.Duration
	// GuestAllow lists the networks guest agents may be in; every
	// connection to one is checked against it when dialled (the registry
	// checks addresses too, but a row written behind the API's back must
	// not make the manager dial elsewhere). Zero means the private ranges.
	GuestAllow netpolicy.List
	// HostAgents makes every request to host agents; nil means a client
	// with the default allow-list (loopback and the private ranges), no
	// token and no TLS settings.
	HostAgents *agentclient.HostAgents
	// GuestAgentToken is sent to guest agents as a bearer token when set.
	GuestAgentToken string
	Logger          *slog.Logger
	// Now stamps samples; default time.Now. Scheduling always uses the real
	// clock.
	Now func() time.Time
	// OnSample receives every new sample, from the goroutine that polled
	// that VM: it must not block for long (hand off to a channel) and must
	// not call Forget.
	OnSample func(wire.CombinedSample)
	// OnPoll receives every request's outcome, under the same rules; it
	// may be called concurrently, even for one VM (the guest agent and the
	// host agent's stats are asked side by side).
	OnPoll func(PollResult)

	// OnEvent receives each event a VM's figures make (a reboot, a
	// restore, an OOM kill, a change of source, ...), from the goroutine
	// that polled the VM; it must not block.
	OnEvent func(wire.Event)
	// ClockSkew is how far a guest's clock may be off the reader's before
	// a clock_skew event; default DefaultClockSkew, negative: never.
	ClockSkew time.Duration
	// CrossCheckAfter is how long the guest's figures and the host's view
	// of them may disagree before a cross_check event; default
	// DefaultCrossCheckAfter, negative: never.
	CrossCheckAfter time.Duration
	// ThrottleThreshold is the share of a VMM cgroup's CPU periods
	// throttled (percent) that, sustained for ThrottleFor, makes a
	// cpu_throttled event; defaults DefaultThrottleThreshold and
	// DefaultThrottleFor, a negative ThrottleFor: never.
	ThrottleThreshold float64
	ThrottleFor       time.Duration

	// Hosts returns the host agents to collect from, each with one GET
	// /v1/samples per interval; called once per interval like Targets,
	// keeping the previous set on error. Nil: none.
	Hosts func(ctx context.Context) ([]HostTarget, error)
	// Register returns the registry id of each VM a host agent reports
	// (by host VM id), registering new ones and marking those it no
	// longer reports gone. It is called from the host's goroutine when
	// that set changes; a VM without an id is not published. name is the
	// host name the agent reports.
	Register func(ctx context.Context, h HostTarget, name string, vms []HostVM, exits map[string]HostExit) (map[string]string, error)
}

// Collector polls VMs. Create it with New, start it with Run.
type Collector struct {
	opt   Options
	log   *slog.Logger
	sem   chan struct{}
	hosts *agentclient.HostAgents
	dial  *net.Dialer // to guest agents

	mu          sync.Mutex
	workers     map[string]*worker
	hostWorkers map[string]*hostWorker
	hostVMs     map[string]*hostVM // by registry id
}

// New returns a Collector with the defaults of Options filled in.
func New(opt Options) *Collector {
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 512
	}
	if opt.Timeout <= 0 || opt.Timeout >= opt.PollInterval {
		opt.Timeout = opt.PollInterval * 8 / 10
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.GuestBackoffMax <= 0 {
		opt.GuestBackoffMax = min(30*opt.PollInterval, max(30*time.Second, opt.PollInterval))
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ClockSkew == 0 {
		opt.ClockSkew = DefaultClockSkew
	}
	if opt.CrossCheckAfter == 0 {
		opt.CrossCheckAfter = DefaultCrossCheckAfter
	}
	if opt.ThrottleThreshold <= 0 {
		opt.ThrottleThreshold = DefaultThrottleThreshold
	}
	if opt.ThrottleFor == 0 {
		opt.ThrottleFor = DefaultThrottleFor
	}
	if opt.GuestAllow.Empty() {
		opt.GuestAllow = netpolicy.MustParseList("--guest-allow-cidrs", netpolicy.PrivateRanges)
	}
	if opt.HostAgents == nil {
		opt.HostAgents = agentclient.NewHostAgents(agentclient.Options{
			Allow:   netpolicy.MustParseList("--host-agent-allow-cidrs", netpolicy.LoopbackAndPrivate),
			Timeout: opt.Timeout, MaxBody: opt.MaxBody})
	}
	return &Collector{opt: opt, log: opt.Logger, sem: make(chan struct{}, opt.Concurrency),
		hosts: opt.HostAgents, dial: agentclient.Dialer(opt.GuestAllow, opt.Timeout), workers: map[string]*worker{},
		hostWorkers: map[string]*hostWorker{}, hostVMs: map[string]*hostVM{}}
}

// Latest returns the newest sample of the VM, with Stale brought up to
// date at the time of the call; false when there is none (unknown VM, or
// not polled yet).
func (c *Collector) Latest(vmID string) (wire.CombinedSample, bool) {
	c.mu.Lock()
	w, ok := c.workers[vmID]
	hv := c.hostVMs[vmID]
	c.mu.Unlock()
	if hv != nil {
		hv.mu.Lock()
		s, dataAt, has := hv.sample, hv.dataAt, hv.has
		hv.mu.Unlock()
		if !has {
			return wire.CombinedSample{}, false
		}
		s.Stale = c.stale(dataAt, c.opt.Now())
		return s, true
	}
	if !ok {
		return wire.CombinedSample{}, false
	}
	s, dataAt, ok := w.latest()
	if !ok {
		return wire.CombinedSample{}, false
	}
	s.Stale = c.stale(dataAt, c.opt.Now())
	return s, true
}

// Forget stops polling the VM and drops its state, so no sample of it is
// delivered after Forget returns. Should the registry still list it, it is
// polled afresh from the next registry read.
func (c *Collector) Forget(vmID string) {
	c.mu.Lock()
	w, ok := c.workers[vmID]
	delete(c.workers, vmID)
	c.mu.Unlock()
	if ok {
		w.stop()
	}
}

// emit hands events to OnEvent.
func (c *Collector) emit(events []wire.Event) {
	if c.opt.OnEvent == nil {
		return
	}
	for _, e := range events {
		c.opt.OnEvent(e)
	}
}

// stale reports whether figures taken at dataAt are too old at now.
func (c *Collector) stale(dataAt, now time.Time) bool {
	return dataAt.IsZero() || now.Sub(dataAt) > 3*c.opt.PollInterval
}

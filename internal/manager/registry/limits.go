package registry

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Limits bound what host agents can make the registry hold: a host that
// reports churning VM ids (short-lived fake processes, a broken launcher)
// must not grow the manager's memory, database or event log without end.
// A zero field sets no limit.
type Limits struct {
	// NewPerHostPerMinute is how many new VMs one host agent may bring per
	// minute (a burst of as many at once); more wait for later polls.
	NewPerHostPerMinute int
	// MaxVMs is how many VMs the registry holds, gone ones included; at
	// the limit the longest gone are forgotten first, and new ones wait
	// when every VM is live.
	MaxVMs int
	// ForgetUnsampledAfter is how long a host agent's VM that never had a
	// figure stored (no history) is kept once gone.
	ForgetUnsampledAfter time.Duration
	// ExitEventsPerHostPerMinute is how many vmm_exit events one host
	// makes a minute, one per VM; the rest of that minute are counted into
	// one event.
	ExitEventsPerHostPerMinute int
}

// ExitEventsPerHostPerMinute is the default of Limits.ExitEventsPerHostPerMinute.
const ExitEventsPerHostPerMinute = 60

// deferred logs, at most once a minute per host, that new VMs wait for a
// limit; the host's status counts them (unregistered_vms).
func (r *Registry) deferred(h collector.HostTarget, n int, now time.Time) {
	r.admit.mu.Lock()
	if r.admit.logged == nil {
		r.admit.logged = map[string]time.Time{}
	}
	quiet := now.Sub(r.admit.logged[h.ID]) < time.Minute
	if !quiet {
		r.admit.logged[h.ID] = now
	}
	r.admit.mu.Unlock()
	if !quiet {
		r.log.Warn("a host agent brings more new VMs than the limits let in; the rest are registered at later polls",
			"host_id", h.ID, "url", h.URL, "waiting", n, "host_new_vms_per_minute", r.limits.NewPerHostPerMinute, "max_vms", r.limits.MaxVMs)
	}
}

// bucket is a token bucket of new VMs, per host.
type bucket struct {
	tokens float64
	at     time.Time
}

// admitter gives out new-VM tokens per host.
type admitter struct {
	mu      sync.Mutex
	perMin  int
	buckets map[string]*bucket
	logged  map[string]time.Time // when each host's waiting VMs were last logged
}

// take returns how many of n new VMs host may register now.
func (a *admitter) take(host string, n int, now time.Time) int {
	if a.perMin <= 0 {
		return n
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buckets == nil {
		a.buckets = map[string]*bucket{}
	}
	b := a.buckets[host]
	if b == nil {
		b = &bucket{tokens: float64(a.perMin), at: now}
		a.buckets[host] = b
	}
	b.tokens = min(float64(a.perMin), b.tokens+now.Sub(b.at).Minutes()*float64(a.perMin))
	b.at = now
	k := min(n, int(b.tokens))
	b.tokens -= float64(k)
	return k
}

// exitWindow counts one host's vmm_exit events in the current minute.
type exitWindow struct {
	start      time.Time
	sent       int
	suppressed int
	lastVM     string // the latest VM whose event was counted, not sent
	lastHost   string // its host agent's URL
}

// exitLimiter rate-limits vmm_exit events per host and sums the rest.
type exitLimiter struct {
	mu      sync.Mutex
	perMin  int
	windows map[string]*exitWindow
}

// allow reports whether VM vmID's exit may be an event of its own; when
// not, it is counted into the host's summary.
func (l *exitLimiter) allow(hostID, url, vmID string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(hostID, now)
	if l.perMin <= 0 || w.sent < l.perMin {
		w.sent++
		return true
	}
	w.suppressed++
	w.lastVM, w.lastHost = vmID, url
	return false
}

// due returns the summary of a host's minute once it has passed, with the
// counts of a new minute started.
func (l *exitLimiter) due(hostID string, now time.Time) (wire.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[hostID]
	if w == nil || now.Sub(w.start) < time.Minute || w.suppressed == 0 {
		return wire.Event{}, false
	}
	e := wire.Event{VMID: w.lastVM, Type: wire.EventVMMExit, TimestampMs: now.UnixMilli(),
		Message: strconv.Itoa(w.suppressed) + " more VMs of host agent " + w.lastHost + " exited within a minute, beyond " +
			strconv.Itoa(l.perMin) + " events of their own (this is the last of them)",
		Detail: map[string]string{"host_id": hostID, "aggregated": strconv.Itoa(w.suppressed)}}
	*w = exitWindow{start: now}
	return e, true
}

// hosts lists the hosts with a window.
func (l *exitLimiter) hosts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Keys(l.windows))
}

func (l *exitLimiter) window(hostID string, now time.Time) *exitWindow {
	if l.windows == nil {
		l.windows = map[string]*exitWindow{}
	}
	w := l.windows[hostID]
	if w == nil || (now.Sub(w.start) >= time.Minute && w.suppressed == 0) {
		w = &exitWindow{start: now}
		l.windows[hostID] = w
	}
	return w
}

// pruneEvery is how often the registry forgets gone VMs.
const pruneEvery = time.Minute

// Run forgets, every pruneEvery (or a quarter of ForgetUnsampledAfter,
// when shorter) until ctx ends, the gone VMs past the history's retention,
// the host agents' unsampled VMs gone longer than ForgetUnsampledAfter,
// and the longest gone beyond MaxVMs.
func (r *Registry) Run(ctx context.Context, retention time.Duration) {
	every := pruneEvery
	if f := r.limits.ForgetUnsampledAfter / 4; f > 0 {
		every = min(every, max(f, time.Second))
	}
	tick.Every(ctx, every, func() { r.pruneOnce(ctx, r.clock(), retention) })
}

func (r *Registry) pruneOnce(ctx context.Context, now time.Time, retention time.Duration) {
	r.prune(ctx, store.PruneQuery{GoneBeforeMs: now.Add(-retention).UnixMilli()})
	if r.limits.ForgetUnsampledAfter > 0 {
		r.prune(ctx, store.PruneQuery{GoneBeforeMs: now.Add(-r.limits.ForgetUnsampledAfter).UnixMilli(), Unsampled: true})
	}
	if over := r.Count() - r.limits.MaxVMs; r.limits.MaxVMs > 0 && over > 0 {
		r.prune(ctx, store.PruneQuery{Oldest: over})
	}
	for _, id := range r.exitsLim.hosts() {
		r.flushExits(id, now)
	}
}

// prune deletes the VMs q selects and forgets them everywhere.
func (r *Registry) prune(ctx context.Context, q store.PruneQuery) int {
	ids, err := r.st.PruneVMs(ctx, q)
	if err != nil {
		r.log.Warn("forgetting gone VMs failed", "err", err)
		return 0
	}
	r.forgetMany(ids)
	if len(ids) > 0 {
		r.log.Info("gone VMs forgotten", "vms", len(ids), "unsampled", q.Unsampled, "over_max_vms", q.Oldest > 0)
		select {
		case r.forgotten <- ids:
		case <-ctx.Done():
		}
	}
	return len(ids)
}

// roomFor returns how many of n new VMs fit under MaxVMs, forgetting the
// longest gone VMs to make room.
func (r *Registry) roomFor(ctx context.Context, n int) int {
	if r.limits.MaxVMs <= 0 {
		return n
	}
	if over := r.Count() + n - r.limits.MaxVMs; over > 0 {
		r.prune(ctx, store.PruneQuery{Oldest: over})
	}
	return max(0, min(n, r.limits.MaxVMs-r.Count()))
}

// Count is how many VMs the registry holds.
func (r *Registry) Count() int {
	r.hostVMs.mu.Lock()
	n := 0
	for _, m := range r.hostVMs.byHost {
		n += len(m)
	}
	r.hostVMs.mu.Unlock()
	r.mu.RLock()
	for i := range r.vms {
		if r.vms[i].HostID == "" {
			n++
		}
	}
	r.mu.RUnlock()
	return n
}

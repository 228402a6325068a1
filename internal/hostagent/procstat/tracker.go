package procstat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
)

// Defaults of a Tracker's limits on pids queried without being attached.
const (
	DefaultIdleTTL  = 2 * time.Minute
	DefaultMaxAdHoc = 1024
	// minFreshWindow is the shortest window a request computes between the
	// baseline and a reading of its own; below it ticks (10 ms) are too
	// coarse and the lifetime average is the better answer.
	minFreshWindow = 200 * time.Millisecond
)

// Tracker samples processes every interval so that a request is answered
// from readings already taken, never by sleeping through a window.
//
// Pids come in two ways. Acquire tracks a pid for as long as it is
// referenced (an attached VM); such a pid is also pinned to the process it
// named when first read, so a recycled pid reads as not found instead of
// reporting a stranger. A pid queried with Stats without being acquired is
// tracked from that first query: the first answer is the lifetime average
// (WindowMs says so), later ones cover the latest interval, and the pid is
// dropped once it has not been queried for IdleTTL.
type Tracker struct {
	r        *Reader
	interval time.Duration
	// IdleTTL is how long an unacquired pid stays tracked after its latest
	// query. MaxAdHoc bounds how many such pids are tracked; beyond it,
	// queries get lifetime averages. Set them before Run.
	IdleTTL  time.Duration
	MaxAdHoc int

	mu    sync.Mutex
	pids  map[int]*entry
	adHoc int
}

type entry struct {
	refs      int
	lastQuery time.Time
	start     uint64 // StartTicks of the process the entry follows
	prev      Sample
	last      Sample
	n         int   // readings taken: the window needs two
	gone      error // set once the process is found gone
}

// NewTracker returns a Tracker reading through r every interval.
func NewTracker(r *Reader, interval time.Duration) *Tracker {
	return &Tracker{r: r, interval: interval, IdleTTL: DefaultIdleTTL,
		MaxAdHoc: DefaultMaxAdHoc, pids: map[int]*entry{}}
}

// Run samples every interval until ctx ends.
func (t *Tracker) Run(ctx context.Context) { tick.Every(ctx, t.interval, t.sampleAll) }

// Acquire starts tracking pid on behalf of one referrer, taking the
// baseline reading now so the first window is complete one interval later.
// A pid with no live process is accepted and reads as not found.
func (t *Tracker) Acquire(pid int) {
	s, err := t.r.Read(pid)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.pids[pid]
	if e == nil {
		e = &entry{}
		t.pids[pid] = e
	} else if e.refs == 0 {
		t.adHoc--
	}
	e.refs++
	if e.refs == 1 {
		// The process an attach names is the one alive now.
		*e = entry{refs: 1}
		e.observe(s, err, 0)
	}
}

// Release drops one reference taken by Acquire; the last one stops tracking.
func (t *Tracker) Release(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.pids[pid]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(t.pids, pid)
		}
	}
}

// observe stores a reading. A different start time under the same pid means
// the pid was recycled: an acquired entry reports the process gone, an
// ad-hoc one starts over with the new process. A reading less than
// minWindow after the previous one (a tick delayed on a loaded host, then
// one on time) extends the current window instead of starting a short,
// noisy one.
func (e *entry) observe(s Sample, err error, minWindow time.Duration) {
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			e.gone = err
		}
		return
	}
	if e.n > 0 && s.StartTicks != e.start {
		if e.refs > 0 {
			e.gone = fmt.Errorf("process %d exited and its pid was reused: %w", s.PID, ErrNotFound)
			return
		}
		e.n = 0
	}
	if e.n == 0 {
		e.start = s.StartTicks
	}
	if e.n >= 2 && s.At.Sub(e.last.At) < minWindow {
		e.last = s
		return
	}
	e.prev, e.last = e.last, s
	e.n++
}

// sampleAll reads every tracked pid, outside the lock so that requests are
// never held up by /proc, and forgets ad-hoc pids that are idle or gone.
func (t *Tracker) sampleAll() {
	now := time.Now()
	t.mu.Lock()
	pids := make([]int, 0, len(t.pids))
	for pid, e := range t.pids {
		switch {
		case e.refs == 0 && (e.gone != nil || now.Sub(e.lastQuery) > t.IdleTTL):
			delete(t.pids, pid)
			t.adHoc--
		case e.gone == nil:
			pids = append(pids, pid)
		}
	}
	t.mu.Unlock()

	samples := make([]Sample, len(pids))
	errs := make([]error, len(pids))
	for i, pid := range pids {
		samples[i], errs[i] = t.r.Read(pid)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for i, pid := range pids {
		if e := t.pids[pid]; e != nil && e.gone == nil {
			e.observe(samples[i], errs[i], t.interval/2)
		}
	}
}

// Stats returns the usage of pid over the latest sampling window, tracking
// pid from now on if it was not tracked yet (see Tracker). The error wraps
// ErrNotFound when there is no such process.
func (t *Tracker) Stats(pid int) (Stats, error) {
	t.mu.Lock()
	e := t.pids[pid]
	if e != nil {
		e.lastQuery = time.Now()
		switch {
		case e.gone != nil:
			t.mu.Unlock()
			return Stats{}, e.gone
		case e.n >= 2:
			st := windowStats(e.prev, e.last)
			t.mu.Unlock()
			return st, nil
		}
	}
	var base Sample
	hasBase := e != nil && e.n == 1
	if hasBase {
		base = e.last
	}
	t.mu.Unlock()

	s, err := t.r.Read(pid)
	if err != nil {
		return Stats{}, err
	}
	if hasBase && s.StartTicks == base.StartTicks && s.At.Sub(base.At) >= minFreshWindow {
		return windowStats(base, s), nil
	}
	if e == nil {
		t.trackAdHoc(s)
	}
	return lifetimeStats(s), nil
}

// trackAdHoc starts following a pid first seen in a query, unless the limit
// on such pids is reached.
func (t *Tracker) trackAdHoc(s Sample) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pids[s.PID] != nil || t.adHoc >= t.MaxAdHoc {
		return
	}
	e := &entry{lastQuery: time.Now()}
	e.observe(s, nil, 0)
	t.pids[s.PID] = e
	t.adHoc++
}

// Tracked reports how many pids are tracked, acquired and ad hoc.
func (t *Tracker) Tracked() (acquired, adHoc int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pids) - t.adHoc, t.adHoc
}

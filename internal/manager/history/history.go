// Package history keeps the manager's metrics history: every VM's recent
// combined samples in memory, and 1-minute rollups of them (average and
// maximum of each figure) in the store, pruned after a retention period.
// Query answers GET /v1/vms/{id}/metrics/history from whichever fits the
// range.
package history

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Defaults of Options.
const (
	DefaultLive      = 15 * time.Minute
	DefaultRetention = 7 * 24 * time.Hour
)

const (
	minuteMs = int64(time.Minute / time.Millisecond)
	// maxHeldMinutes bounds the minutes held per VM while the store
	// fails: an outage longer than this loses the oldest, with a warning.
	maxHeldMinutes = 60
)

// Options configure a History.
type Options struct {
	// Store keeps the rollups; required.
	Store store.Store
	// Live is how far back raw samples are kept in memory; zero means
	// DefaultLive.
	Live time.Duration
	// Retention is how long rollups are kept before Run prunes them; zero
	// means DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives store failures and lost data; nil discards.
	Logger *slog.Logger
	// Remote, when set, answers the ranges beyond the live window instead
	// of the rollups: a Prometheus-compatible TSDB (--history-url).
	Remote Remote
}

// Remote reads a VM's history from elsewhere (package tsdb): points from
// sinceMs to untilMs, one per stepMs, sources kept.
type Remote func(ctx context.Context, vmID string, sinceMs, untilMs, stepMs int64) ([]wire.HistoryPoint, error)

// History is the metrics history of all VMs. Its methods are safe for
// concurrent use.
type History struct {
	store     store.Store
	liveMs    int64
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	startMs   int64 // when New ran: the live window begins no earlier
	remote    Remote

	// Run's timing; tests shorten them.
	flushEvery, pruneEvery, finalTimeout, finalRetry time.Duration

	mu  sync.RWMutex
	vms map[string]*vmState

	flushMu     sync.Mutex // one flush at a time; guards the fields below
	lastPruneMs int64
	failures    int // consecutive failed flushes

	lost atomic.Int64 // held minutes dropped unpersisted, not yet logged
}

// vmState is one VM's samples and held minutes, guarded by mu.
type vmState struct {
	mu   sync.Mutex
	ring ring
	mins []minuteAcc // ascending by minute
	// mergeThroughMs: a minute at or before it may already be stored (by
	// an earlier process, or held here and dropped), so a new one is
	// merged with the stored rollup before it is written.
	mergeThroughMs int64
	gone           bool // removed from History.vms; Add must look again
}

// minuteAcc is one VM's minute not yet persisted, or persisted but still
// open to late samples. It is dirty while version != storedVersion.
type minuteAcc struct {
	minuteMs      int64
	agg           agg
	version       uint64
	storedVersion uint64
	needsMerge    bool // see vmState.mergeThroughMs; not written until merged
}

func (m *minuteAcc) dirty() bool { return m.version != m.storedVersion }

// New returns a History over o.Store. Nothing is persisted until Run runs.
func New(o Options) *History {
	if o.Live <= 0 {
		o.Live = DefaultLive
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	start := o.Now().UnixMilli()
	return &History{
		store: o.Store, liveMs: o.Live.Milliseconds(), retention: o.Retention,
		now: o.Now, log: o.Logger, startMs: start, remote: o.Remote,
		flushEvery: 10 * time.Second, pruneEvery: 5 * time.Minute, finalTimeout: 30 * time.Second, finalRetry: time.Second,
		vms: make(map[string]*vmState),
	}
}

// Add records a sample: into the VM's live window and into the rollup of
// its UTC minute. It does no I/O and takes only the VM's own lock (and
// briefly a shared one), so collectors of different VMs call it
// concurrently. Samples of one VM should come in time order; one older
// than the VM's newest restarts its live window.
func (h *History) Add(s wire.CombinedSample) {
	if s.VMID == "" {
		return
	}
	r := readingOf(&s)
	for {
		v := h.state(s.VMID)
		v.mu.Lock()
		if !v.gone {
			v.ring.push(s.TimestampMs, &r, h.liveMs)
			if v.addMinute(minuteOf(s.TimestampMs), &r) {
				h.lost.Add(1)
			}
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
	}
}

// state returns the VM's state, creating it.
func (h *History) state(id string) *vmState {
	h.mu.RLock()
	v := h.vms[id]
	h.mu.RUnlock()
	if v != nil {
		return v
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if v = h.vms[id]; v == nil {
		v = &vmState{mergeThroughMs: minuteOf(h.startMs)}
		h.vms[id] = v
	}
	return v
}

// addMinute folds r into the minute m, creating it in order. It reports
// whether a dirty minute had to be dropped to stay within maxHeldMinutes.
func (v *vmState) addMinute(m int64, r *reading) (lostDirty bool) {
	i := len(v.mins)
	for i > 0 && v.mins[i-1].minuteMs > m {
		i--
	}
	if i > 0 && v.mins[i-1].minuteMs == m {
		acc := &v.mins[i-1]
		acc.agg.addReading(r)
		acc.version++
		return false
	}
	acc := minuteAcc{minuteMs: m, version: 1, needsMerge: m <= v.mergeThroughMs}
	acc.agg.addReading(r)
	v.mins = slices.Insert(v.mins, i, acc)
	if len(v.mins) <= maxHeldMinutes {
		return false
	}
	return v.dropOldest()
}

// dropOldest forgets the oldest held minute, reporting whether it was
// dirty (its new samples are lost).
func (v *vmState) dropOldest() (lostDirty bool) {
	old := v.mins[0]
	v.mins = slices.Delete(v.mins, 0, 1)
	v.mergeThroughMs = max(v.mergeThroughMs, old.minuteMs)
	return old.dirty()
}

// find returns the held minute m, or nil.
func (v *vmState) find(m int64) *minuteAcc {
	for i := range v.mins {
		if v.mins[i].minuteMs == m {
			return &v.mins[i]
		}
	}
	return nil
}

// Forget drops a VM's live samples and held minutes, persisted or not: call
// it when the VM is deleted (after store.DeleteVM removed its rollups). A
// sample added afterwards starts the VM afresh.
func (h *History) Forget(vmID string) {
	h.mu.Lock()
	v := h.vms[vmID]
	delete(h.vms, vmID)
	h.mu.Unlock()
	if v != nil {
		v.mu.Lock()
		v.gone, v.ring, v.mins = true, ring{}, nil
		v.mu.Unlock()
	}
}

// snapshot lists the VMs' states with their ids.
func (h *History) snapshot() (ids []string, states []*vmState) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, v := range h.vms {
		ids = append(ids, id)
		states = append(states, v)
	}
	return ids, states
}

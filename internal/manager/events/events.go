// Package events records what the manager sees happen to VMs: it counts
// each event, streams it to the live clients at once and stores it a batch
// at a time; with other managers on the same database it also streams the
// events they stored, each once.
package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Options configure a Recorder.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	// Retention is how long events are kept.
	Retention time.Duration
	// Count and Publish receive every event this manager sees (the
	// Prometheus counter, the live streams); Publish also those relayed.
	Count   func(typ string)
	Publish func(wire.Event)
	// Shared: other managers share the database, and the events they
	// store are streamed to this one's clients too, while Listeners (nil:
	// always) says there are any.
	Shared    bool
	Listeners func() int
}

// Recorder takes the events the collector and the registry make, counts
// them, streams them at once, and stores them a batch at a time, so a
// burst (a host restarting its VMs) costs one transaction, not one each.
type Recorder struct {
	st        store.Store
	log       *slog.Logger
	count     func(typ string)
	publish   func(wire.Event)
	retention time.Duration
	queue     chan wire.Event
	others    bool
	listeners func() int
	// own and relayed hold the ids stored here and the ids relayed, with
	// when (Unix ms).
	own       map[int64]int64
	relayed   map[int64]int64
	relayFrom int64
}

// relaySlack is how far back each relay round reads: events carry the
// time they were observed, and another manager stores them a second or
// two later.
const relaySlack = 10 * time.Second

// eventQueue bounds the events waiting to be stored; past it they are
// dropped with a warning (the database is down, or far too slow).
const eventQueue = 10_000

// New returns a Recorder; Run stores what it records.
func New(o Options) *Recorder {
	return &Recorder{st: o.Store, log: o.Logger, count: o.Count, publish: o.Publish, retention: o.Retention,
		queue: make(chan wire.Event, eventQueue), others: o.Shared, listeners: o.Listeners,
		own: map[int64]int64{}, relayed: map[int64]int64{}}
}

// Add records e; it never blocks.
func (ev *Recorder) Add(e wire.Event) {
	ev.count(e.Type)
	ev.publish(e)
	select {
	case ev.queue <- e:
	default:
		ev.log.Warn("event dropped: too many waiting to be stored", "vm_id", e.VMID, "type", e.Type)
	}
}

// Run stores the queued events until ctx ends, then what is left; it
// prunes those older than the retention every ten minutes.
func (ev *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	var batch []wire.Event
	for {
		select {
		case e := <-ev.queue:
			batch = append(batch, e)
			if len(batch) < 500 {
				continue
			}
		case <-tick.C:
		case <-prune.C:
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if n, err := ev.st.PruneEvents(pctx, time.Now().Add(-ev.retention).UnixMilli()); err != nil {
				ev.log.Warn("pruning events failed", "err", err)
			} else if n > 0 {
				ev.log.Debug("events pruned", "rows", n)
			}
			cancel()
		case <-ctx.Done():
			for len(ev.queue) > 0 {
				batch = append(batch, <-ev.queue)
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			ev.store(fctx, batch)
			cancel()
			return
		}
		if len(batch) > 0 {
			ev.store(ctx, batch)
			batch = batch[:0]
		}
		if ev.others {
			if ev.listeners == nil || ev.listeners() > 0 {
				ev.relay(ctx)
			} else {
				ev.relayFrom = 0 // nobody to tell: no database reads until there is
			}
			ev.forget(time.Now().UnixMilli())
		}
	}
}

func (ev *Recorder) store(ctx context.Context, batch []wire.Event) {
	if len(batch) == 0 {
		return
	}
	stored, err := ev.st.AddEvents(ctx, batch)
	if err != nil {
		ev.log.Warn("storing events failed; they are lost", "events", len(batch), "err", err)
		return
	}
	if ev.others {
		now := time.Now().UnixMilli()
		for _, e := range stored {
			ev.own[e.ID] = now
		}
	}
}

// relay streams the events other managers stored since the last round
// (they are in the shared database, but only their own clients saw them
// streamed), oldest first, each once; it leaves out this manager's own.
// They are not counted here: fcmon_events_total of each manager counts
// what it saw, so the sum over managers counts each event once.
func (ev *Recorder) relay(ctx context.Context) {
	now := time.Now().UnixMilli()
	if ev.relayFrom == 0 {
		ev.relayFrom = now // from the start, not the history
	}
	got, err := ev.st.Events(ctx, store.EventQuery{SinceMs: ev.relayFrom - relaySlack.Milliseconds(), Limit: 1000})
	if err != nil {
		return
	}
	for i := len(got) - 1; i >= 0; i-- {
		e := got[i]
		if _, mine := ev.own[e.ID]; mine {
			continue
		}
		if _, done := ev.relayed[e.ID]; done {
			continue
		}
		ev.relayed[e.ID] = now
		ev.publish(e)
	}
	ev.relayFrom = now
}

// forget drops the ids too old for a relay round to read again.
func (ev *Recorder) forget(now int64) {
	for _, m := range []map[int64]int64{ev.own, ev.relayed} {
		for id, at := range m {
			if now-at > 2*relaySlack.Milliseconds() {
				delete(m, id)
			}
		}
	}
}

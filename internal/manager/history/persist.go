package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fcmon/fcmon/internal/manager/store"
)

// completeGraceMs is how long after its end a minute is left open to
// samples still on their way before it is written.
const completeGraceMs = 2000

// Run persists and prunes until ctx ends. Every 10 s it writes every held
// minute with new samples in one UpsertRollups batch — the current, partial
// minute included, rewritten as it fills — so a crash (kill -9, power loss
// of the manager's machine) loses at most the last 10 s; every 5 minutes it
// deletes rollups older than Retention and forgets VMs that sent nothing for
// the live window. A store error keeps the minutes in memory to retry on the
// next round (up to an hour of them per VM; beyond that the oldest are
// dropped with a warning); a rollup the store refuses for good (its VM was
// deleted) is dropped alone, with a warning, not with its batch.
//
// When ctx ends Run writes everything held, the current partial minute
// included, retrying for up to 30 s, and returns nil, or the error that kept
// it from doing so. Samples added after Run returns are not persisted: stop
// the collector first.
func (h *History) Run(ctx context.Context) error {
	t := time.NewTicker(h.flushEvery)
	defer t.Stop()
	h.maintain(ctx)
	for {
		select {
		case <-ctx.Done():
			return h.final(ctx)
		case <-t.C:
			h.flush(ctx, true)
			h.maintain(ctx)
		}
	}
}

// final writes everything held, retrying until finalTimeout.
func (h *History) final(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.finalTimeout)
	defer cancel()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		err := h.flush(ctx, true)
		if err == nil {
			return nil
		}
		retry.Reset(h.finalRetry)
		select {
		case <-ctx.Done():
			return fmt.Errorf("storing history rollups at shutdown: %w", err)
		case <-retry.C:
		}
	}
}

// flush writes the dirty held minutes that are complete, or with all every
// dirty one (the partial minute too), and reports the store error that kept
// some from being written.
func (h *History) flush(ctx context.Context, all bool) error {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	complete := h.now().UnixMilli() - minuteMs - completeGraceMs // minutes starting at or before it
	cutoff := complete
	if all {
		cutoff = math.MaxInt64
	}
	err := h.mergeStored(ctx, cutoff)
	batch, owners := h.collect(complete, cutoff)
	if len(batch) > 0 {
		start := time.Now()
		settled := make([]bool, len(batch))
		uerr := h.upsert(ctx, batch, settled)
		written := 0
		for i, ok := range settled {
			if ok {
				owners[i].settle(batch[i].MinuteMs, owners[i].version)
				written++
			}
		}
		// What the store sustains is the figure that decides how many VMs
		// one manager can keep history for.
		h.log.Debug("history: rollups written", "rows", written, "of", len(batch),
			"took_ms", time.Since(start).Milliseconds())
		err = errors.Join(err, uerr)
	}
	if n := h.lost.Swap(0); n > 0 {
		h.log.Warn("history: dropped unpersisted minutes: the store failed for longer than they are held",
			"minutes", n, "held_minutes_per_vm", maxHeldMinutes)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: final retries and reports it.
	case err != nil:
		h.failures++
		h.log.Warn("history: storing rollups failed; keeping them to retry", "error", err, "attempt", h.failures)
	case h.failures > 0:
		h.log.Info("history: storing rollups again", "failed_attempts", h.failures)
		h.failures = 0
	}
	return err
}

// owner is the held minute a rollup of a batch came from, at the version
// the rollup holds.
type owner struct {
	v       *vmState
	version uint64
}

// settle marks the minute stored at version.
func (o owner) settle(minute int64, version uint64) {
	o.v.mu.Lock()
	defer o.v.mu.Unlock()
	if acc := o.v.find(minute); acc != nil && version > acc.storedVersion {
		acc.storedVersion = version
	}
}

// collect drops the stored minutes that are complete (a late sample then
// merges with the stored rollup) and returns rollups of the dirty minutes
// starting at or before cutoff.
func (h *History) collect(complete, cutoff int64) ([]store.Rollup, []owner) {
	var (
		batch  []store.Rollup
		owners []owner
	)
	ids, states := h.snapshot()
	for k, v := range states {
		v.mu.Lock()
		for len(v.mins) > 0 && v.mins[0].minuteMs <= complete && !v.mins[0].dirty() && !v.mins[0].needsMerge {
			v.dropOldest()
		}
		for i := range v.mins {
			acc := &v.mins[i]
			if acc.minuteMs <= cutoff && acc.dirty() && !acc.needsMerge {
				batch = append(batch, acc.agg.rollup(ids[k], acc.minuteMs))
				owners = append(owners, owner{v, acc.version})
			}
		}
		v.mu.Unlock()
	}
	return batch, owners
}

// mergeStored folds the stored rollup, if any, into every held minute
// starting at or before cutoff that may already have one, so writing it
// does not overwrite what an earlier process (or an earlier flush) stored.
func (h *History) mergeStored(ctx context.Context, cutoff int64) error {
	ids, states := h.snapshot()
	for k, v := range states {
		v.mu.Lock()
		var todo []int64
		for i := range v.mins {
			if v.mins[i].needsMerge && v.mins[i].minuteMs <= cutoff {
				todo = append(todo, v.mins[i].minuteMs)
			}
		}
		v.mu.Unlock()
		for _, m := range todo {
			stored, err := h.store.Rollups(ctx, ids[k], m, m+minuteMs)
			if err != nil {
				return fmt.Errorf("reading the stored rollup to merge: %w", err)
			}
			v.mu.Lock()
			if acc := v.find(m); acc != nil && acc.needsMerge {
				for i := range stored {
					acc.agg.addRollup(&stored[i])
				}
				acc.needsMerge = false
				acc.version++
			}
			v.mu.Unlock()
		}
	}
	return nil
}

// upsert stores batch, setting settled[i] for each rollup stored or refused
// for good. A batch refused for one rollup's sake is split in halves until
// that rollup is alone, then dropped; any other error stops it.
func (h *History) upsert(ctx context.Context, batch []store.Rollup, settled []bool) error {
	err := h.store.UpsertRollups(ctx, batch)
	switch {
	case err == nil:
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid):
		return err
	case len(batch) == 1:
		h.log.Warn("history: the store refused a rollup; dropping it",
			"vm_id", batch[0].VMID, "minute_ms", batch[0].MinuteMs, "error", err)
	default:
		mid := len(batch) / 2
		if err := h.upsert(ctx, batch[:mid], settled[:mid]); err != nil {
			return err
		}
		return h.upsert(ctx, batch[mid:], settled[mid:])
	}
	for i := range settled {
		settled[i] = true
	}
	return nil
}

// maintain prunes old rollups and forgets idle VMs, once per pruneEvery.
func (h *History) maintain(ctx context.Context) {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	now := h.now().UnixMilli()
	if h.lastPruneMs != 0 && now-h.lastPruneMs < h.pruneEvery.Milliseconds() {
		return
	}
	h.sweep(now)
	n, err := h.store.PruneRollups(ctx, now-h.retention.Milliseconds())
	if err != nil {
		h.log.Warn("history: pruning old rollups failed; retrying later", "error", err)
		return
	}
	h.lastPruneMs = now
	h.log.Debug("history: pruned old rollups", "deleted", n, "retention", h.retention)
}

// sweep forgets VMs with no held minute and no sample within the live
// window, such as one deleted while a last sample was on its way.
func (h *History) sweep(now int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, v := range h.vms {
		v.mu.Lock()
		if len(v.mins) == 0 && (v.ring.n == 0 || v.ring.newestMs() < now-h.liveMs) {
			v.gone = true
			delete(h.vms, id)
		}
		v.mu.Unlock()
	}
}

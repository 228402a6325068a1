package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// ErrBadRange wraps every error Query returns for a range, step or size
// the caller should change: the API answers it with 400 and the message.
var ErrBadRange = errors.New("bad history range")

// ErrRemote wraps the errors of Options.Remote: the TSDB did not answer
// (the API answers 502).
var ErrRemote = errors.New("the TSDB of --history-url did not answer")

const (
	// MaxPoints is the most points one Query returns.
	MaxPoints      = 10_000
	defaultRangeMs = 5 * minuteMs
	dayMs          = 24 * 60 * minuteMs
)

func badRange(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRange}, args...)...)
}

// plan is a validated query: its range, the width of its points (0 for raw
// samples as polled) and where they come from.
type plan struct {
	since, until, step int64
	raw                bool
}

// Query returns vmID's history over [sinceMs, untilMs] (Unix ms; 0 means
// absent: until defaults to now, since to until − 5 min) as points of stepMs
// (0 means the native resolution).
//
// The range must not be longer than Retention plus one day, and stepMs must
// be 0 to the range's length. When the whole range lies within the live
// window — the last Live, but nothing before New — and stepMs is at most a
// minute, the points are raw samples (bucketed when stepMs > 0); otherwise
// they are 1-minute rollups from the store, merged with the minutes still
// held in memory, and bucketed when stepMs > 60 s. More than MaxPoints
// points is refused with a message naming the step that fits.
//
// Errors the caller can fix wrap ErrBadRange; any other is the store's. An
// unknown VM has no points.
func (h *History) Query(ctx context.Context, vmID string, sinceMs, untilMs, stepMs int64) (wire.History, error) {
	p, err := h.plan(h.now().UnixMilli(), sinceMs, untilMs, stepMs)
	if err != nil {
		return wire.History{}, err
	}
	out := wire.History{VMID: vmID, SinceMs: p.since, UntilMs: p.until, StepMs: p.step, Resolution: wire.ResolutionRaw}
	switch {
	case p.raw:
		out.Points, err = h.queryRaw(vmID, p)
	case h.remote != nil:
		out.Resolution = wire.ResolutionTSDB
		out.Points, err = h.remote(ctx, vmID, p.since, p.until, p.step)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrRemote, err)
		}
		if out.Points == nil {
			out.Points = []wire.HistoryPoint{}
		}
	default:
		out.Resolution = wire.Resolution1m
		out.Points, err = h.queryRollups(ctx, vmID, p)
	}
	if err != nil {
		return wire.History{}, err
	}
	return out, nil
}

func (h *History) plan(now, since, until, step int64) (plan, error) {
	switch {
	case since < 0 || until < 0:
		return plan{}, badRange("since %d and until %d must be Unix milliseconds, not negative", since, until)
	case step < 0:
		return plan{}, badRange("step %d ms is negative: want 0 for the native resolution or a width in ms", step)
	}
	if until == 0 {
		until = now
	}
	if since == 0 {
		since = until - defaultRangeMs
	}
	rng := until - since
	limit := h.retention.Milliseconds() + dayMs
	switch {
	case rng <= 0:
		return plan{}, badRange("since %d must be before until %d", since, until)
	case rng > limit:
		return plan{}, badRange("range of %v is longer than the %v history is kept (retention plus one day)",
			time.Duration(rng)*time.Millisecond, time.Duration(limit)*time.Millisecond)
	case step > rng:
		return plan{}, badRange("step %d ms is longer than the range of %d ms", step, rng)
	}
	p := plan{since: since, until: until, step: step}
	p.raw = since >= max(now-h.liveMs, h.startMs) && step <= minuteMs
	if !p.raw && step < minuteMs {
		p.step = minuteMs
	}
	if p.step > 0 {
		if n := floorTo(until, p.step)/p.step - floorTo(since, p.step)/p.step + 1; n > MaxPoints {
			return plan{}, tooMany(n, rng, p.step)
		}
	}
	return p, nil
}

// tooMany is the error for a query of n > MaxPoints points, naming a step
// (whole seconds) that fits.
func tooMany(n, rng, step int64) error {
	fit := (rng + MaxPoints - 3) / (MaxPoints - 2)
	fit = (fit + 999) / 1000 * 1000
	return badRange("range of %d ms at a step of %d ms gives %d points, more than %d: raise step to at least %d ms",
		rng, step, n, MaxPoints, fit)
}

// timed is a live sample with its time.
type timed struct {
	tsMs int64
	r    reading
}

func (h *History) queryRaw(vmID string, p plan) ([]wire.HistoryPoint, error) {
	var samples []timed
	if v := h.lookup(vmID); v != nil {
		v.mu.Lock()
		v.ring.each(p.since, p.until, func(ts int64, r *reading) { samples = append(samples, timed{ts, *r}) })
		v.mu.Unlock()
	}
	if p.step > 0 {
		b := bucketer{step: p.step}
		for i := range samples {
			b.at(samples[i].tsMs).addReading(&samples[i].r)
		}
		return b.done(), nil
	}
	if n := int64(len(samples)); n > MaxPoints {
		return nil, tooMany(n, p.until-p.since, 0)
	}
	points := make([]wire.HistoryPoint, len(samples))
	for i := range samples {
		r := samples[i].r
		pt := wire.HistoryPoint{TimestampMs: samples[i].tsMs, Source: cpuSourceNames[r.cpuSrc], MemorySource: memSourceNames[r.memSrc]}
		avgs, _ := pointFigs(&pt)
		for f := range numFigs {
			if r.present&(1<<f) != 0 {
				*avgs[f] = &r.vals[f]
			}
		}
		points[i] = pt
	}
	return points, nil
}

// held is a minute held in memory as Query saw it.
type held struct {
	minuteMs int64
	agg      agg
	merge    bool // the stored rollup is not folded in yet
}

func (h *History) queryRollups(ctx context.Context, vmID string, p plan) ([]wire.HistoryPoint, error) {
	// Memory first: a minute written and dropped meanwhile is then in the
	// store when it is read.
	var mem []held
	if v := h.lookup(vmID); v != nil {
		v.mu.Lock()
		for _, m := range v.mins {
			if m.minuteMs+minuteMs > p.since && m.minuteMs <= p.until {
				mem = append(mem, held{m.minuteMs, m.agg, m.needsMerge})
			}
		}
		v.mu.Unlock()
	}
	rollups, err := h.store.Rollups(ctx, vmID, minuteOf(p.since), p.until+1)
	if err != nil {
		return nil, fmt.Errorf("reading history of vm %q: %w", vmID, err)
	}
	rollups = mergeHeld(vmID, rollups, mem)
	if p.step == minuteMs {
		points := make([]wire.HistoryPoint, len(rollups))
		for i := range rollups {
			points[i] = rollupPoint(&rollups[i])
		}
		return points, nil
	}
	b := bucketer{step: p.step}
	for i := range rollups {
		b.at(rollups[i].MinuteMs).addRollup(&rollups[i])
	}
	return b.done(), nil
}

// mergeHeld puts the held minutes in place of the stored ones (or merged
// with them), ascending by minute.
func mergeHeld(vmID string, stored []store.Rollup, mem []held) []store.Rollup {
	for _, m := range mem {
		i := slices.IndexFunc(stored, func(r store.Rollup) bool { return r.MinuteMs == m.minuteMs })
		if i >= 0 && m.merge {
			m.agg.addRollup(&stored[i])
		}
		if r := m.agg.rollup(vmID, m.minuteMs); i >= 0 {
			stored[i] = r
		} else {
			stored = append(stored, r)
		}
	}
	slices.SortFunc(stored, func(a, b store.Rollup) int { return int(a.MinuteMs/minuteMs - b.MinuteMs/minuteMs) })
	return stored
}

func rollupPoint(r *store.Rollup) wire.HistoryPoint {
	p := wire.HistoryPoint{TimestampMs: r.MinuteMs, Source: r.Source, MemorySource: r.MemorySource, Samples: r.Samples,
		SourceSamples: r.SourceSamples, MemorySourceSamples: r.MemorySourceSamples}
	avgs, maxs := pointFigs(&p)
	for i, st := range rollupStats(r) {
		if st.Valid {
			*avgs[i], *maxs[i] = &st.Avg, &st.Max
		}
	}
	return p
}

// bucketer folds time-ordered samples or rollups into points step wide,
// aligned to multiples of step; empty buckets make no point.
type bucketer struct {
	step  int64
	start int64
	open  bool
	cur   agg
	out   []wire.HistoryPoint
}

// at returns the bucket holding tsMs, closing the previous one.
func (b *bucketer) at(tsMs int64) *agg {
	if start := floorTo(tsMs, b.step); !b.open || start != b.start {
		b.close()
		b.start, b.open, b.cur = start, true, agg{}
	}
	return &b.cur
}

func (b *bucketer) close() {
	if b.open {
		b.out = append(b.out, b.cur.point(b.start))
	}
}

func (b *bucketer) done() []wire.HistoryPoint {
	b.close()
	b.open = false
	if b.out == nil {
		return []wire.HistoryPoint{}
	}
	return b.out
}

func (h *History) lookup(vmID string) *vmState {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.vms[vmID]
}

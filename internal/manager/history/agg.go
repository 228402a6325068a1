package history

import (
	"math"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Figures, in the order of store.Rollup's stats and wire.HistoryPoint's
// fields.
const (
	figCPU = iota
	figMemPct
	figMemUsedKB
	figMemTotalKB
	figNetRx
	figNetTx
	figDiskRead
	figDiskWrite
	numFigs
)

// Sources as small integers, in tie-breaking order: the guest wins ties.
const (
	srcGuest = iota
	srcHost
	srcNone
	numSources
)

var sourceNames = [numSources]string{wire.SourceGuest, wire.SourceHost, wire.SourceNone}

func sourceIndex(s string) uint8 {
	switch s {
	case wire.SourceGuest:
		return srcGuest
	case wire.SourceHost, wire.SourceVCPU, wire.SourceBalloon:
		// Seen from the host, not told by the guest: kept apart from the
		// guest's own figures.
		return srcHost
	}
	return srcNone
}

// reading is one sample's figures: vals[i] counts only when bit i of
// present is set.
type reading struct {
	vals    [numFigs]float64
	present uint8
	source  uint8
}

// readingOf extracts s's figures. A source other than guest or host counts
// as none, and a none sample carries no figures; non-finite or negative
// values are dropped as absent.
func readingOf(s *wire.CombinedSample) reading {
	r := reading{source: sourceIndex(s.Source)}
	if r.source == srcNone {
		return r
	}
	set := func(i int, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 {
			r.vals[i] = v
			r.present |= 1 << i
		}
	}
	if s.CPUUsagePercent != nil {
		set(figCPU, *s.CPUUsagePercent)
	}
	if s.MemoryUsagePercent != nil {
		set(figMemPct, *s.MemoryUsagePercent)
	}
	if s.MemoryUsedKB != nil {
		set(figMemUsedKB, float64(*s.MemoryUsedKB))
	}
	if s.MemoryTotalKB != nil {
		set(figMemTotalKB, float64(*s.MemoryTotalKB))
	}
	if s.Network != nil {
		set(figNetRx, s.Network.RxBytesPerSec)
		set(figNetTx, s.Network.TxBytesPerSec)
	}
	if s.Disk != nil {
		set(figDiskRead, s.Disk.ReadBytesPerSec)
		set(figDiskWrite, s.Disk.WriteBytesPerSec)
	}
	return r
}

// figAgg folds values of one figure: their weighted sum, maximum and total
// weight.
type figAgg struct {
	sum, max float64
	n        int
}

func (f *figAgg) add(avg, max float64, weight int) {
	if f.n == 0 || max > f.max {
		f.max = max
	}
	f.sum += avg * float64(weight)
	f.n += weight
}

// agg folds samples (weight 1) or rollups (weighted by their sample count)
// into averages, maxima, a sample count and per-source counts.
type agg struct {
	figs     [numFigs]figAgg
	samples  int
	bySource [numSources]int
}

func (a *agg) addReading(r *reading) {
	a.samples++
	a.bySource[r.source]++
	for i := range numFigs {
		if r.present&(1<<i) != 0 {
			a.figs[i].add(r.vals[i], r.vals[i], 1)
		}
	}
}

// addRollup folds a stored rollup in. Its averages are weighted by its
// sample count: the store keeps no per-figure counts, so this is exact only
// when every sample of the minute had the figure.
func (a *agg) addRollup(r *store.Rollup) {
	a.samples += r.Samples
	a.bySource[sourceIndex(r.Source)] += r.Samples
	w := max(r.Samples, 1)
	for i, st := range rollupStats(r) {
		if st.Valid {
			a.figs[i].add(st.Avg, st.Max, w)
		}
	}
}

// source is the source of most samples, the guest winning ties and host
// winning over none.
func (a *agg) source() string {
	best := srcNone
	for i := numSources - 1; i >= 0; i-- {
		if a.bySource[i] >= a.bySource[best] {
			best = i
		}
	}
	return sourceNames[best]
}

func (a *agg) rollup(vmID string, minuteMs int64) store.Rollup {
	r := store.Rollup{VMID: vmID, MinuteMs: minuteMs, Samples: a.samples, Source: a.source()}
	for i, st := range rollupStats(&r) {
		if f := &a.figs[i]; f.n > 0 {
			*st = store.Stat{Avg: f.sum / float64(f.n), Max: f.max, Valid: true}
		}
	}
	return r
}

// point is a as a HistoryPoint with averages, maxima and a sample count.
func (a *agg) point(tsMs int64) wire.HistoryPoint {
	p := wire.HistoryPoint{TimestampMs: tsMs, Source: a.source(), Samples: a.samples}
	avgs, maxs := pointFigs(&p)
	for i := range numFigs {
		if f := &a.figs[i]; f.n > 0 {
			avg, mx := f.sum/float64(f.n), f.max
			*avgs[i], *maxs[i] = &avg, &mx
		}
	}
	return p
}

// rollupStats lists r's figures in fig order.
func rollupStats(r *store.Rollup) [numFigs]*store.Stat {
	return [numFigs]*store.Stat{&r.CPU, &r.MemPct, &r.MemUsedKB, &r.MemTotalKB, &r.NetRx, &r.NetTx, &r.DiskRead, &r.DiskWrite}
}

// pointFigs lists p's average and maximum fields in fig order.
func pointFigs(p *wire.HistoryPoint) (avgs, maxs [numFigs]**float64) {
	avgs = [numFigs]**float64{&p.CPUUsagePercent, &p.MemoryUsagePercent, &p.MemoryUsedKB, &p.MemoryTotalKB,
		&p.NetRxBytesPerSec, &p.NetTxBytesPerSec, &p.DiskReadBytesPerSec, &p.DiskWriteBytesPerSec}
	maxs = [numFigs]**float64{&p.CPUUsagePercentMax, &p.MemoryUsagePercentMax, &p.MemoryUsedKBMax, &p.MemoryTotalKBMax,
		&p.NetRxBytesPerSecMax, &p.NetTxBytesPerSecMax, &p.DiskReadBytesPerSecMax, &p.DiskWriteBytesPerSecMax}
	return avgs, maxs
}

// minuteOf is the start of the UTC minute holding ms.
func minuteOf(ms int64) int64 { return floorTo(ms, minuteMs) }

// floorTo rounds ms down to a multiple of step, also for negative ms.
func floorTo(ms, step int64) int64 {
	r := ms % step
	if r < 0 {
		r += step
	}
	return ms - r
}

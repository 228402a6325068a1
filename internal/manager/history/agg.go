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
	figThrottled
	figCgroupMemKB
	figCgroupLimitKB
	figVCPUs
	numFigs
)

// Sources as small integers, in order of preference: a minute (or a
// point) with any guest samples keeps the guest's figures; else those seen
// from the host of the guest (its vCPU threads, its balloon); else the
// VMM process's. CPU and memory are chosen apart, each from its own
// samples, so no figure ever averages two sources.
const (
	srcGuest = iota
	srcView  // vcpu for CPU, balloon for memory
	srcHost
	srcNone
	numSources
)

var (
	cpuSourceNames = [numSources]string{wire.SourceGuest, wire.SourceVCPU, wire.SourceHost, wire.SourceNone}
	memSourceNames = [numSources]string{wire.SourceGuest, wire.SourceBalloon, wire.SourceHost, wire.SourceNone}
)

func sourceIndex(s string) uint8 {
	switch s {
	case wire.SourceGuest:
		return srcGuest
	case wire.SourceVCPU, wire.SourceBalloon:
		return srcView
	case wire.SourceHost:
		return srcHost
	}
	return srcNone
}

// Figure groups: the CPU figure, the memory figures and the rates (which
// name their own source and are not kept apart by it).
const (
	groupCPU = iota
	groupMem
	groupRates
)

func groupOf(fig int) int {
	switch fig {
	case figCPU:
		return groupCPU
	case figMemPct, figMemUsedKB, figMemTotalKB:
		return groupMem
	}
	return groupRates
}

// reading is one sample's figures: vals[i] counts only when bit i of
// present is set. cpuSrc and memSrc say where its CPU and memory came from.
type reading struct {
	vals           [numFigs]float64
	present        uint8
	cpuSrc, memSrc uint8
}

// src is the source of figure fig's group.
func (r *reading) src(fig int) uint8 {
	switch groupOf(fig) {
	case groupCPU:
		return r.cpuSrc
	case groupMem:
		return r.memSrc
	}
	return srcGuest // rates: one bucket
}

// readingOf extracts s's figures. A sample without a source carries no
// figures; non-finite or negative values are dropped as absent.
func readingOf(s *wire.CombinedSample) reading {
	mem := s.MemorySource
	if mem == "" { // a sample of before memory_source: CPU's was memory's
		mem = s.Source
	}
	r := reading{cpuSrc: sourceIndex(s.Source), memSrc: sourceIndex(mem)}
	if r.cpuSrc == srcNone && r.memSrc == srcNone {
		return r
	}
	set := func(i int, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 {
			r.vals[i] = v
			r.present |= 1 << i
		}
	}
	if s.CPUUsagePercent != nil && r.cpuSrc != srcNone {
		set(figCPU, *s.CPUUsagePercent)
	}
	if r.memSrc != srcNone {
		if s.MemoryUsagePercent != nil {
			set(figMemPct, *s.MemoryUsagePercent)
		}
		if s.MemoryUsedKB != nil {
			set(figMemUsedKB, float64(*s.MemoryUsedKB))
		}
		if s.MemoryTotalKB != nil {
			set(figMemTotalKB, float64(*s.MemoryTotalKB))
		}
	}
	if s.Network != nil {
		set(figNetRx, s.Network.RxBytesPerSec)
		set(figNetTx, s.Network.TxBytesPerSec)
	}
	if s.Disk != nil {
		set(figDiskRead, s.Disk.ReadBytesPerSec)
		set(figDiskWrite, s.Disk.WriteBytesPerSec)
	}
	if c := s.Cgroup; c != nil {
		set(figThrottled, c.ThrottledPercent)
		set(figCgroupMemKB, float64(c.MemoryCurrentBytes)/1024)
		if c.MemoryLimitBytes != nil {
			set(figCgroupLimitKB, float64(*c.MemoryLimitBytes)/1024)
		}
	}
	if s.VCPUs > 0 {
		set(figVCPUs, float64(s.VCPUs))
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

// agg folds samples (weight 1) or rollups (weighted by their sample
// counts) into averages and maxima, each figure per source of its group,
// and counts the samples of each group's sources.
type agg struct {
	figs    [numFigs][numSources]figAgg
	samples int
	cpuN    [numSources]int
	memN    [numSources]int
}

func (a *agg) addReading(r *reading) {
	a.samples++
	a.cpuN[r.cpuSrc]++
	a.memN[r.memSrc]++
	for i := range numFigs {
		if r.present&(1<<i) != 0 {
			a.figs[i][r.src(i)].add(r.vals[i], r.vals[i], 1)
		}
	}
}

// addRollup folds a stored rollup in. Its averages are weighted by the
// sample count of their group's source: the store keeps no per-figure
// counts, so this is exact only when every such sample had the figure.
func (a *agg) addRollup(r *store.Rollup) {
	a.samples += r.Samples
	cpu, mem := sourceIndex(r.Source), sourceIndex(r.MemorySource)
	a.cpuN[cpu] += r.SourceSamples
	a.memN[mem] += r.MemorySourceSamples
	if rest := r.Samples - r.SourceSamples; rest > 0 {
		a.cpuN[srcNone] += rest // samples of other sources, not kept
	}
	if rest := r.Samples - r.MemorySourceSamples; rest > 0 {
		a.memN[srcNone] += rest
	}
	for i, st := range rollupStats(r) {
		if !st.Valid {
			continue
		}
		switch groupOf(i) {
		case groupCPU:
			a.figs[i][cpu].add(st.Avg, st.Max, max(r.SourceSamples, 1))
		case groupMem:
			a.figs[i][mem].add(st.Avg, st.Max, max(r.MemorySourceSamples, 1))
		default:
			a.figs[i][srcGuest].add(st.Avg, st.Max, max(r.Samples, 1))
		}
	}
}

// best is the preferred source with samples, srcNone for none.
func best(n *[numSources]int) int {
	for i := range srcNone {
		if n[i] > 0 {
			return i
		}
	}
	return srcNone
}

// fig is figure i as kept: from its group's chosen source.
func (a *agg) fig(i, cpu, mem int) *figAgg {
	switch groupOf(i) {
	case groupCPU:
		return &a.figs[i][cpu]
	case groupMem:
		return &a.figs[i][mem]
	}
	return &a.figs[i][srcGuest]
}

func (a *agg) rollup(vmID string, minuteMs int64) store.Rollup {
	cpu, mem := best(&a.cpuN), best(&a.memN)
	r := store.Rollup{VMID: vmID, MinuteMs: minuteMs, Samples: a.samples,
		Source: cpuSourceNames[cpu], SourceSamples: a.cpuN[cpu],
		MemorySource: memSourceNames[mem], MemorySourceSamples: a.memN[mem]}
	if cpu == srcNone {
		r.SourceSamples = 0
	}
	if mem == srcNone {
		r.MemorySourceSamples = 0
	}
	for i, st := range rollupStats(&r) {
		if f := a.fig(i, cpu, mem); f.n > 0 {
			*st = store.Stat{Avg: f.sum / float64(f.n), Max: f.max, Valid: true}
		}
	}
	return r
}

// point is a as a HistoryPoint with averages, maxima and sample counts.
func (a *agg) point(tsMs int64) wire.HistoryPoint {
	cpu, mem := best(&a.cpuN), best(&a.memN)
	p := wire.HistoryPoint{TimestampMs: tsMs, Source: cpuSourceNames[cpu], MemorySource: memSourceNames[mem],
		Samples: a.samples}
	if cpu != srcNone {
		p.SourceSamples = a.cpuN[cpu]
	}
	if mem != srcNone {
		p.MemorySourceSamples = a.memN[mem]
	}
	avgs, maxs := pointFigs(&p)
	for i := range numFigs {
		if f := a.fig(i, cpu, mem); f.n > 0 {
			avg, mx := f.sum/float64(f.n), f.max
			*avgs[i], *maxs[i] = &avg, &mx
		}
	}
	return p
}

// rollupStats lists r's figures in fig order.
func rollupStats(r *store.Rollup) [numFigs]*store.Stat {
	return [numFigs]*store.Stat{&r.CPU, &r.MemPct, &r.MemUsedKB, &r.MemTotalKB, &r.NetRx, &r.NetTx, &r.DiskRead, &r.DiskWrite,
		&r.Throttled, &r.CgroupMemKB, &r.CgroupLimitKB, &r.VCPUs}
}

// pointFigs lists p's average and maximum fields in fig order.
func pointFigs(p *wire.HistoryPoint) (avgs, maxs [numFigs]**float64) {
	avgs = [numFigs]**float64{&p.CPUUsagePercent, &p.MemoryUsagePercent, &p.MemoryUsedKB, &p.MemoryTotalKB,
		&p.NetRxBytesPerSec, &p.NetTxBytesPerSec, &p.DiskReadBytesPerSec, &p.DiskWriteBytesPerSec,
		&p.ThrottledPercent, &p.CgroupMemoryKB, &p.CgroupMemoryLimitKB, &p.VCPUs}
	maxs = [numFigs]**float64{&p.CPUUsagePercentMax, &p.MemoryUsagePercentMax, &p.MemoryUsedKBMax, &p.MemoryTotalKBMax,
		&p.NetRxBytesPerSecMax, &p.NetTxBytesPerSecMax, &p.DiskReadBytesPerSecMax, &p.DiskWriteBytesPerSecMax,
		&p.ThrottledPercentMax, &p.CgroupMemoryKBMax, &p.CgroupMemoryLimitKBMax, &p.VCPUsMax}
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

package history

import (
	"math"
	"sync"
)

// liveSample is a reading packed into 16 bytes, so that 100,000 VMs × 900
// samples fit in about 1.4 GB: the time as an offset in ms from its ring's
// base, and the figures as 16-bit floats (within 0.025 %). The
// source and the memory total, which change rarely, are kept once per run
// of samples that share them (ring.runs); memory use in percent is
// derived from used and total, as the guest computes it.
type liveSample struct {
	offMs uint32
	vals  [numPacked]uint16 // f16 of the figures below, or absent
}

// The figures packed as f16, by index in liveSample.vals.
var packedFigs = [...]int{figCPU, figMemUsedKB, figNetRx, figNetTx, figDiskRead, figDiskWrite}

const (
	numPacked = len(packedFigs)
	absent    = 0xFFFF
)

// run is the source and memory total of the samples from fromMs on.
type run struct {
	fromMs         int64
	cpuSrc, memSrc uint8
	total          float64
	hasTot         bool
}

// f16 packs v >= 0 into 16 bits: a 5-bit exponent and 11 bits of mantissa
// with an implicit leading 1, normal from 2^minExp up to about
// 2^(minExp+31), linear (subnormal) below, with a relative error below
// 2^-12; larger values saturate. Each figure has its own minExp.
func f16(v float64, minExp int) uint16 {
	if !(v > 0) {
		return 0
	}
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	e := exp - minExp          // 1 for v in [2^minExp, 2^(minExp+1))
	if e <= 0 {                // subnormal: m × 2^(minExp-11)
		m := math.Round(math.Ldexp(v, 11-minExp))
		if m >= 2048 {
			return 1 << 11
		}
		return uint16(m)
	}
	m := math.Round((frac*2 - 1) * 2048)
	if m == 2048 { // rounded up to the next power of two
		m, e = 0, e+1
	}
	if e > 31 || (e == 31 && m >= 2047) {
		return 31<<11 | 2046 // the largest value: absent is 31<<11|2047
	}
	return uint16(e)<<11 | uint16(m)
}

func unf16(c uint16, minExp int) float64 {
	e, m := int(c>>11), float64(c&2047)
	if e == 0 {
		return math.Ldexp(m, minExp-11)
	}
	return math.Ldexp(1+m/2048, e-1+minExp)
}

// minExps are the figures' f16 ranges: CPU in percent from 2^-14 to 2^17,
// kB and bytes per second from 1 KiB (linear in half units below) to
// 2 PiB.
var minExps = [numPacked]int{-14, 10, 10, 10, 10, 10}

// round4 gives v to 4 significant digits, about what an f16 holds, so
// that 45.2 reads back as 45.2 rather than 45.203125.
func round4(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// ring holds one VM's samples of the last window, oldest first, in
// chunks of chunkLen samples: it grows and shrinks a chunk at a time, so
// 15 minutes at one sample a second take 29 or 30 chunks of 512 bytes
// (about 17.4 bytes a sample, pointers included) with no copying, and
// chunks freed by one VM serve the next.
type ring struct {
	chunks []*chunk // chunks[0] holds the oldest sample
	head   int      // index of the oldest sample in chunks[0]
	n      int
	baseMs int64 // time of offMs 0
	runs   []run // ascending by fromMs; the first covers the oldest sample
}

const chunkLen = 32 // 512-byte chunks: a size class of Go's allocator, no waste

type chunk [chunkLen]liveSample

// chunks recycles the chunks rings let go of.
var chunks = sync.Pool{New: func() any { return new(chunk) }}

func (g *ring) at(i int) *liveSample {
	j := g.head + i
	return &g.chunks[j/chunkLen][j%chunkLen]
}

func (g *ring) tsAt(i int) int64 { return g.baseMs + int64(g.at(i).offMs) }

// newestMs is the time of the newest sample; the ring must not be empty.
func (g *ring) newestMs() int64 { return g.tsAt(g.n - 1) }

// push appends a sample taken at tsMs and drops those older than window
// before it. A sample older than the newest (the clock stepped back)
// empties the ring first, so it stays in time order.
func (g *ring) push(tsMs int64, r *reading, window int64) {
	if g.n > 0 && tsMs < g.newestMs() {
		g.clear()
	}
	for g.n > 0 && g.tsAt(0) < tsMs-window {
		g.dropOldest()
	}
	if g.n == 0 {
		g.clear()
		g.baseMs = tsMs
	} else if tsMs-g.baseMs > math.MaxUint32 {
		g.rebase(g.tsAt(0))
	}
	if (g.head+g.n)/chunkLen == len(g.chunks) {
		g.chunks = append(g.chunks, chunks.Get().(*chunk))
	}
	*g.at(g.n) = pack(r, uint32(tsMs-g.baseMs))
	g.n++
	g.note(tsMs, r)
}

// dropOldest forgets the oldest sample, and its chunk once it is empty.
func (g *ring) dropOldest() {
	g.head++
	g.n--
	if g.head == chunkLen {
		chunks.Put(g.chunks[0])
		copy(g.chunks, g.chunks[1:])
		g.chunks[len(g.chunks)-1] = nil
		g.chunks = g.chunks[:len(g.chunks)-1]
		g.head = 0
	}
}

// clear empties the ring, returning its chunks.
func (g *ring) clear() {
	for i, c := range g.chunks {
		chunks.Put(c)
		g.chunks[i] = nil
	}
	g.chunks, g.head, g.n, g.runs = g.chunks[:0], 0, 0, g.runs[:0]
}

// note starts a run when the source or memory total differs from the
// newest run's, and drops runs that no longer cover any sample.
func (g *ring) note(tsMs int64, r *reading) {
	hasTot := r.present&(1<<figMemTotalKB) != 0
	tot := r.vals[figMemTotalKB]
	if k := len(g.runs); k == 0 || g.runs[k-1].cpuSrc != r.cpuSrc || g.runs[k-1].memSrc != r.memSrc ||
		g.runs[k-1].hasTot != hasTot || (hasTot && g.runs[k-1].total != tot) {
		g.runs = append(g.runs, run{fromMs: tsMs, cpuSrc: r.cpuSrc, memSrc: r.memSrc, total: tot, hasTot: hasTot})
	}
	oldest := g.tsAt(0)
	drop := 0
	for drop+1 < len(g.runs) && g.runs[drop+1].fromMs <= oldest {
		drop++
	}
	if drop > 0 {
		g.runs = append(g.runs[:0], g.runs[drop:]...)
	}
}

// rebase moves the time origin forward to baseMs, no later than the oldest
// sample, keeping offsets within uint32 over any window below 49 days.
func (g *ring) rebase(baseMs int64) {
	d := uint32(baseMs - g.baseMs)
	for i := range g.n {
		g.at(i).offMs -= d
	}
	g.baseMs = baseMs
}

// each calls fn for every sample with sinceMs <= time <= untilMs, oldest
// first, unpacked.
func (g *ring) each(sinceMs, untilMs int64, fn func(tsMs int64, r *reading)) {
	k := 0
	for i := range g.n {
		ts := g.tsAt(i)
		if ts < sinceMs || ts > untilMs {
			continue
		}
		for k+1 < len(g.runs) && g.runs[k+1].fromMs <= ts {
			k++
		}
		var rn run
		if k < len(g.runs) {
			rn = g.runs[k]
		}
		r := g.at(i).unpack(&rn)
		fn(ts, &r)
	}
}

func pack(r *reading, offMs uint32) liveSample {
	s := liveSample{offMs: offMs}
	for i, f := range packedFigs {
		s.vals[i] = absent
		if r.present&(1<<f) != 0 {
			s.vals[i] = f16(r.vals[f], minExps[i])
		}
	}
	return s
}

func (s *liveSample) unpack(rn *run) reading {
	r := reading{cpuSrc: rn.cpuSrc, memSrc: rn.memSrc}
	if rn.hasTot {
		r.vals[figMemTotalKB], r.present = rn.total, 1<<figMemTotalKB
	}
	for i, f := range packedFigs {
		if s.vals[i] != absent {
			r.vals[f] = round4(unf16(s.vals[i], minExps[i]))
			r.present |= 1 << f
		}
	}
	// Memory use as the guest agent computes it, to two decimals.
	const both = 1<<figMemUsedKB | 1<<figMemTotalKB
	if r.present&both == both && r.vals[figMemTotalKB] > 0 {
		r.vals[figMemPct] = math.Round(min(r.vals[figMemUsedKB]/r.vals[figMemTotalKB], 1)*10000) / 100
		r.present |= 1 << figMemPct
	}
	return r
}

package history

import (
	"math"
	"strconv"
)

// liveSample is a reading packed into 40 bytes: the time as an offset from
// its ring's base, the kB figures as uint32 (saturating at 4 TiB) and the
// others as float32 bits. A CombinedSample with its pointers takes several
// hundred bytes; 10,000 VMs × 900 samples fit in about 400 MB this way.
type liveSample struct {
	offMs   uint32 // TimestampMs − ring.baseMs
	present uint8  // bit i set: vals[i] holds figure i
	source  uint8  // srcGuest, srcHost or srcNone
	vals    [numFigs]uint32
}

func isKB(i int) bool { return i == figMemUsedKB || i == figMemTotalKB }

func pack(r *reading, offMs uint32) liveSample {
	s := liveSample{offMs: offMs, present: r.present, source: r.source}
	for i := range numFigs {
		switch {
		case r.present&(1<<i) == 0:
		case isKB(i):
			s.vals[i] = uint32(min(r.vals[i], math.MaxUint32))
		default:
			s.vals[i] = math.Float32bits(float32(r.vals[i]))
		}
	}
	return s
}

func (s *liveSample) unpack() reading {
	r := reading{present: s.present, source: s.source}
	for i := range numFigs {
		switch {
		case s.present&(1<<i) == 0:
		case isKB(i):
			r.vals[i] = float64(s.vals[i])
		default:
			r.vals[i] = widen(math.Float32frombits(s.vals[i]))
		}
	}
	return r
}

// widen converts f to the float64 of its shortest decimal form, so a
// stored 12.3 reads back as 12.3 rather than 12.300000190734863.
func widen(f float32) float64 {
	var buf [32]byte
	v, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	if err != nil {
		return float64(f)
	}
	return v
}

// ring holds one VM's samples of the last window, oldest first, in a
// circular buffer that grows by an eighth when full and shrinks when mostly
// empty, so its capacity follows the poll interval.
type ring struct {
	buf    []liveSample
	head   int // index of the oldest sample
	n      int
	baseMs int64 // time of offMs 0
}

const minRingCap = 16

func (g *ring) at(i int) *liveSample { return &g.buf[(g.head+i)%len(g.buf)] }

func (g *ring) tsAt(i int) int64 { return g.baseMs + int64(g.at(i).offMs) }

// newestMs is the time of the newest sample; the ring must not be empty.
func (g *ring) newestMs() int64 { return g.tsAt(g.n - 1) }

// push appends a sample taken at tsMs and drops those older than window
// before it. A sample older than the newest (the clock stepped back)
// empties the ring first, so it stays in time order.
func (g *ring) push(tsMs int64, r *reading, window int64) {
	if g.n > 0 && tsMs < g.newestMs() {
		g.n = 0
	}
	for g.n > 0 && g.tsAt(0) < tsMs-window {
		g.head = (g.head + 1) % len(g.buf)
		g.n--
	}
	if g.n == 0 {
		g.head, g.baseMs = 0, tsMs
	} else if tsMs-g.baseMs > math.MaxUint32 {
		g.rebase(g.tsAt(0))
	}
	switch {
	case g.n == len(g.buf):
		g.resize(max(minRingCap, g.n+g.n/8))
	case len(g.buf) > 4*minRingCap && g.n < len(g.buf)/4:
		g.resize(max(minRingCap, 2*g.n))
	}
	*g.at(g.n) = pack(r, uint32(tsMs-g.baseMs))
	g.n++
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

// resize moves the samples into a buffer of capacity c >= g.n.
func (g *ring) resize(c int) {
	buf := make([]liveSample, c)
	for i := range g.n {
		buf[i] = *g.at(i)
	}
	g.buf, g.head = buf, 0
}

// each calls fn for every sample with sinceMs <= time <= untilMs, oldest
// first.
func (g *ring) each(sinceMs, untilMs int64, fn func(tsMs int64, s *liveSample)) {
	for i := range g.n {
		if ts := g.tsAt(i); ts >= sinceMs && ts <= untilMs {
			fn(ts, g.at(i))
		}
	}
}

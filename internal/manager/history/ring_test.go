package history

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func times(g *ring) []int64 {
	var out []int64
	g.each(math.MinInt64, math.MaxInt64, func(ts int64, _ *reading) { out = append(out, ts) })
	return out
}

func TestRingWindow(t *testing.T) {
	var g ring
	r := reading{}
	window := (15 * time.Minute).Milliseconds()
	for i := range int64(20 * 60) {
		g.push(t0+i*1000, &r, window)
	}
	ts := times(&g)
	if len(ts) != 901 || ts[0] != t0+(20*60-1-900)*1000 || ts[900] != t0+(20*60-1)*1000 {
		t.Errorf("ring holds %d samples from %d to %d; want the last 901 (15 min inclusive)", len(ts), ts[0], ts[len(ts)-1])
	}
	if c := len(g.chunks); c > 901/chunkLen+2 {
		t.Errorf("%d chunks for 901 samples", c)
	}
	// The poll interval grows: the buffer shrinks with the samples.
	for i := range int64(40) {
		g.push(t0+20*60_000+i*30_000, &r, window)
	}
	if g.n != 31 || len(g.chunks) > 2 {
		t.Errorf("after 30 s polling: %d samples in %d chunks", g.n, len(g.chunks))
	}
}

func TestRingClockStepsBack(t *testing.T) {
	var g ring
	r := reading{}
	for _, ts := range []int64{t0, t0 + 1000, t0 + 2000, t0 + 2000, t0 + 500, t0 + 1500} {
		g.push(ts, &r, 60_000)
	}
	if got := fmt.Sprint(times(&g)); got != fmt.Sprint([]int64{t0 + 500, t0 + 1500}) {
		t.Errorf("times %s: want the samples since the step back only", got)
	}
}

// TestRingRebase polls a VM for 60 days without a gap: the offsets from
// the ring's base would overflow uint32 after 49.7 days.
func TestRingRebase(t *testing.T) {
	var g ring
	r := reading{}
	const step = 10 * 60_000
	last := t0
	for ts := t0; ts < t0+60*24*60*60_000; ts += step {
		g.push(ts, &r, 15*60_000)
		last = ts
	}
	if got := times(&g); len(got) != 2 || got[1] != last || got[0] != last-step {
		t.Errorf("times %v, want %d and %d", got, last-step, last)
	}
}

func TestPackRoundTrip(t *testing.T) {
	s := guest("a", t0, 12.3)
	s.MemoryUsedKB, s.MemoryTotalKB = u64(math.MaxUint32+10), u64(2*math.MaxUint32+20) // above 4 TiB
	s.MemoryUsagePercent = f64p(50)
	s.Network.RxBytesPerSec = 1234567.25
	r := readingOf(&s)
	var g ring
	g.push(t0, &r, 60_000)
	var got reading
	g.each(t0, t0, func(_ int64, x *reading) { got = *x })
	for i := range numFigs {
		if math.Abs(got.vals[i]-r.vals[i]) > 5e-4*r.vals[i] {
			t.Errorf("figure %d: unpacked %v, want %v within 4 digits", i, got.vals[i], r.vals[i])
		}
	}
	if got.vals[figCPU] != 12.3 || got.present != r.present || got.cpuSrc != r.cpuSrc || got.memSrc != r.memSrc {
		t.Errorf("unpacked %+v, want %+v", got, r)
	}
}

// TestF16: every value of each figure's range within 2^-12, zero exact,
// order kept, the absent code never produced.
func TestF16(t *testing.T) {
	for i, minExp := range minExps {
		if f16(0, minExp) != 0 || unf16(0, minExp) != 0 || f16(-1, minExp) != 0 || f16(math.NaN(), minExp) != 0 {
			t.Error("zero, negative or NaN is not 0")
		}
		prev := uint16(0)
		lo, hi := math.Ldexp(1, minExp), math.Ldexp(1, minExp+31)
		for v := lo / 4096; v < hi; v *= 1.0003 {
			c := f16(v, minExp)
			if c == absent {
				t.Fatalf("figure %d: f16(%g) is the absent code", i, v)
			}
			if c < prev {
				t.Fatalf("figure %d: f16(%g) = %#x below the previous %#x", i, v, c, prev)
			}
			prev = c
			back := unf16(c, minExp)
			if v >= lo && math.Abs(back-v) > v/4096 {
				t.Fatalf("figure %d: f16(%g) reads back %g", i, v, back)
			}
			if v < lo && math.Abs(back-v) > math.Ldexp(1, minExp-12) {
				t.Fatalf("figure %d: f16(%g) (subnormal) reads back %g", i, v, back)
			}
		}
		if f16(1e300, minExp) == absent || unf16(f16(1e300, minExp), minExp) < hi*0.999 {
			t.Errorf("figure %d: a huge value does not saturate", i)
		}
	}
	for _, v := range []float64{45.2, 100, 0.5, 62.5, 12.3, 7.77} {
		if got := round4(unf16(f16(v, minExps[0]), minExps[0])); got != v {
			t.Errorf("CPU %v reads back as %v", v, got)
		}
	}
	for _, v := range []float64{1500, 819200, 512000, 0.5, 1234} {
		if got := round4(unf16(f16(v, minExps[1]), minExps[1])); got != v {
			t.Errorf("%v reads back as %v", v, got)
		}
	}
}

// TestRingRuns: the source and memory total are kept per run and found
// again for each sample; memory use is derived from used and total.
func TestRingRuns(t *testing.T) {
	var g ring
	a := guest("a", t0, 10)
	a.MemoryUsedKB, a.MemoryTotalKB, a.MemoryUsagePercent = u64(256), u64(1024), f64p(25)
	ra := readingOf(&a)
	h := a
	h.Source, h.MemoryTotalKB, h.MemoryUsagePercent = wire.SourceHost, nil, nil
	rh := readingOf(&h)
	for i := range int64(10) {
		if i < 5 {
			g.push(t0+i*1000, &ra, 7_000)
		} else {
			g.push(t0+i*1000, &rh, 7_000)
		}
	}
	var got []reading
	g.each(math.MinInt64, math.MaxInt64, func(_ int64, r *reading) { got = append(got, *r) })
	if len(got) != 8 || len(g.runs) != 2 {
		t.Fatalf("%d samples, %d runs", len(got), len(g.runs))
	}
	if got[0].cpuSrc != srcGuest || got[0].vals[figMemTotalKB] != 1024 || got[0].vals[figMemPct] != 25 || got[3].memSrc != srcHost ||
		got[3].present&(1<<figMemTotalKB) != 0 || got[3].present&(1<<figMemPct) != 0 {
		t.Errorf("readings %+v", got)
	}
	for i := int64(10); i < 20; i++ {
		g.push(t0+i*1000, &rh, 7_000)
	}
	if len(g.runs) != 1 {
		t.Errorf("%d runs once the guest's samples left the window", len(g.runs))
	}
}

// TestLiveBytesPerSample measures the heap the live window takes: 200 VMs
// with 15 minutes of 1-second samples.
func TestLiveBytesPerSample(t *testing.T) {
	if n := unsafe.Sizeof(liveSample{}); n != 16 {
		t.Errorf("liveSample is %d bytes, want 16", n)
	}
	const vms, perVM = 200, 900
	samples := make([]wire.CombinedSample, vms)
	for i := range samples {
		samples[i] = guest(fmt.Sprintf("vm-%04d", i), 0, 1)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := New(Options{Now: newClock(t0).Now})
	for i := range int64(perVM) {
		for j := range samples {
			samples[j].TimestampMs = t0 + i*1000
			h.Add(samples[j])
		}
	}
	for _, v := range h.vms {
		v.mins = nil // as Run leaves them: minutes written are dropped
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSample := float64(after.HeapAlloc-before.HeapAlloc) / (vms * perVM)
	t.Logf("live window: %.1f bytes per sample (%d VMs × %d samples, VM states and map included); 10,000 VMs × 900 ≈ %.0f MB",
		perSample, vms, perVM, perSample*10_000*900/1e6)
	if perSample > 20 {
		t.Errorf("%.1f bytes per sample, want at most 20 (16 and the ring's slack)", perSample)
	}
	runtime.KeepAlive(h)
}

// BenchmarkAdd adds samples round-robin over 1,000 VMs.
func BenchmarkAdd(b *testing.B) {
	const vms = 1000
	samples := make([]wire.CombinedSample, vms)
	for i := range samples {
		samples[i] = guest(fmt.Sprintf("vm-%04d", i), 0, 1)
	}
	h := New(Options{Now: newClock(t0).Now})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := &samples[i%vms]
		s.TimestampMs = t0 + int64(i/vms)*1000
		h.Add(*s)
		i++
	}
}

// BenchmarkAddParallel adds from GOMAXPROCS goroutines, each over its own
// VMs.
func BenchmarkAddParallel(b *testing.B) {
	h := New(Options{Now: newClock(t0).Now})
	var id atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		samples := make([]wire.CombinedSample, 100)
		base := fmt.Sprint(id.Add(1))
		for i := range samples {
			samples[i] = guest(fmt.Sprintf("%s-%d", base, i), 0, 1)
		}
		i := 0
		for pb.Next() {
			s := &samples[i%len(samples)]
			s.TimestampMs = t0 + int64(i/len(samples))*1000
			h.Add(*s)
			i++
		}
	})
}

// BenchmarkFullLiveWindow fills the live window of 100,000 VMs (15 minutes
// at one sample a second, as host agents deliver them) and reports the heap
// it takes per VM-second: what the manager's memory goal at that size rests
// on. One iteration is the whole fill (-benchtime 1x).
func BenchmarkFullLiveWindow(b *testing.B) {
	const vms, perVM = 100_000, 901
	samples := make([]wire.CombinedSample, vms)
	for i := range samples {
		samples[i] = guest(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), 0, float64(i%100))
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := New(Options{Now: newClock(t0).Now})
		for i := range int64(perVM) {
			for j := range samples {
				samples[j].TimestampMs = t0 + i*1000
				h.Add(samples[j])
			}
			if i%60 == 59 {
				for _, v := range h.vms {
					v.mins = v.mins[:0] // as Run leaves them: minutes written are dropped
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(vms*perVM), "bytes/VM-second")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB")
		runtime.KeepAlive(h)
	}
}

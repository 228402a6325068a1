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
	g.each(math.MinInt64, math.MaxInt64, func(ts int64, _ *liveSample) { out = append(out, ts) })
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
	if c := len(g.buf); c > 901*9/8+minRingCap {
		t.Errorf("capacity %d for 901 samples", c)
	}
	// The poll interval grows: the buffer shrinks with the samples.
	for i := range int64(40) {
		g.push(t0+20*60_000+i*30_000, &r, window)
	}
	if g.n != 31 || len(g.buf) > 4*minRingCap*2 {
		t.Errorf("after 30 s polling: %d samples in a buffer of %d", g.n, len(g.buf))
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
	s.MemoryUsedKB = u64(math.MaxUint32 + 10) // above 4 TiB: saturates
	s.Network.RxBytesPerSec = 1234567.25
	r := readingOf(&s)
	packed := pack(&r, 0)
	got := packed.unpack()
	want := r
	want.vals[figMemUsedKB] = math.MaxUint32
	for i := range numFigs {
		if math.Abs(got.vals[i]-want.vals[i]) > 1e-7*want.vals[i] {
			t.Errorf("figure %d: unpacked %v, want %v", i, got.vals[i], want.vals[i])
		}
	}
	if got.vals[figCPU] != 12.3 || got.present != want.present || got.source != want.source {
		t.Errorf("unpacked %+v, want %+v", got, want)
	}
}

// TestLiveBytesPerSample measures the heap the live window takes: 200 VMs
// with 15 minutes of 1-second samples.
func TestLiveBytesPerSample(t *testing.T) {
	if n := unsafe.Sizeof(liveSample{}); n != 40 {
		t.Errorf("liveSample is %d bytes, want 40", n)
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
	if perSample > 64 {
		t.Errorf("%.1f bytes per sample, want at most 64", perSample)
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

package history

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

func stat(avg, max float64) store.Stat { return store.Stat{Avg: avg, Max: max, Valid: true} }

// full is the rollup of guest samples whose CPU averages cpuAvg.
func full(minute int64, n int, cpuAvg, cpuMax float64) store.Rollup {
	return store.Rollup{VMID: "a", MinuteMs: minute, Samples: n, Source: "guest", SourceSamples: n,
		MemorySource: "guest", MemorySourceSamples: n,
		CPU: stat(cpuAvg, cpuMax), MemPct: stat(50, 50), MemUsedKB: stat(1024, 1024), MemTotalKB: stat(2048, 2048),
		NetRx: stat(100, 100), NetTx: stat(200, 200), DiskRead: stat(300, 300), DiskWrite: stat(400, 400)}
}

// viewed is a sample seen from the host of the guest: CPU from the vCPU
// threads, memory from the balloon when balloon is set (else the VMM's RSS).
func viewed(vm string, ts int64, cpu float64, balloon bool) wire.CombinedSample {
	s := wire.CombinedSample{VMID: vm, TimestampMs: ts, Source: wire.SourceVCPU, MemorySource: wire.SourceHost,
		CPUUsagePercent: f64(cpu), MemoryUsedKB: u64(8192)}
	if balloon {
		s.MemorySource = wire.SourceBalloon
		s.MemoryUsedKB, s.MemoryTotalKB, s.MemoryUsagePercent = u64(512), u64(2048), f64(25)
	}
	return s
}

func TestRollupMath(t *testing.T) {
	none := func(ts int64) wire.CombinedSample {
		s := guest("a", ts, 99) // figures a none sample must not contribute
		s.Source = wire.SourceNone
		return s
	}
	nan := guest("a", t0+1000, math.NaN())
	nan.Network = nil
	tests := []struct {
		name    string
		samples []wire.CombinedSample
		want    []store.Rollup
	}{{
		name:    "average and maximum",
		samples: []wire.CombinedSample{guest("a", t0+1000, 10), guest("a", t0+2000, 20), guest("a", t0+3000, 60)},
		want:    []store.Rollup{full(t0, 3, 30, 60)},
	}, {
		name:    "figures no sample had stay absent",
		samples: []wire.CombinedSample{host("a", t0, 150), host("a", t0+1000, 50)},
		want: []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 2, Source: "host", SourceSamples: 2,
			MemorySource: "host", MemorySourceSamples: 2, CPU: stat(100, 150), MemUsedKB: stat(4096, 4096)}},
	}, {
		name:    "sources are never averaged: the guest's are kept",
		samples: []wire.CombinedSample{host("a", t0, 30), guest("a", t0+1000, 10), host("a", t0+2000, 70)},
		want:    []store.Rollup{func() store.Rollup { r := full(t0, 3, 10, 10); r.SourceSamples, r.MemorySourceSamples = 1, 1; return r }()},
	}, {
		name: "vCPU and balloon before the VMM process, each group apart",
		samples: []wire.CombinedSample{host("a", t0, 30), viewed("a", t0+1000, 20, false), viewed("a", t0+2000, 40, true),
			viewed("a", t0+3000, 60, true)},
		want: []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 4, Source: "vcpu", SourceSamples: 3,
			MemorySource: "balloon", MemorySourceSamples: 2, CPU: stat(40, 60), MemPct: stat(25, 25),
			MemUsedKB: stat(512, 512), MemTotalKB: stat(2048, 2048)}},
	}, {
		name:    "none samples count but carry no figures",
		samples: []wire.CombinedSample{none(t0), none(t0 + 1000), guest("a", t0+2000, 40)},
		want: []store.Rollup{func() store.Rollup {
			r := full(t0, 3, 40, 40)
			r.SourceSamples, r.MemorySourceSamples = 1, 1
			return r
		}()},
	}, {
		name:    "only none samples",
		samples: []wire.CombinedSample{none(t0)},
		want:    []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 1, Source: "none", MemorySource: "none"}},
	}, {
		name:    "non-finite figures are absent",
		samples: []wire.CombinedSample{nan},
		want: []store.Rollup{func() store.Rollup {
			r := full(t0, 1, 0, 0)
			r.CPU, r.NetRx, r.NetTx = store.Stat{}, store.Stat{}, store.Stat{}
			return r
		}()},
	}, {
		name:    "minutes are aligned to the UTC minute",
		samples: []wire.CombinedSample{guest("a", t0-1, 1), guest("a", t0, 2), guest("a", t0+59_999, 4), guest("a", t0+60_000, 8)},
		want:    []store.Rollup{full(t0-60_000, 1, 1, 1), full(t0, 2, 3, 4), full(t0+60_000, 1, 8, 8)},
	}}
	forEachBackend(t, func(t *testing.T, dbURL string) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st := openStore(t, dbURL)
				vm := fmt.Sprintf("vm-%d", i) // one database for all cases: a VM each
				if _, err := st.CreateVM(context.Background(), store.VM{ID: vm, Name: vm}); err != nil {
					t.Fatal(err)
				}
				h := newHistory(t, st, newClock(t0+2*60_000), 0)
				for _, s := range tt.samples {
					s.VMID = vm
					h.Add(s)
				}
				if err := h.flush(context.Background(), true); err != nil {
					t.Fatalf("flush: %v", err)
				}
				got := rollupsOf(t, st, vm)
				for i := range tt.want {
					tt.want[i].VMID = vm
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("rollups:\n got %+v\nwant %+v", got, tt.want)
				}
			})
		}
	})
}

// TestAddConcurrent adds from many goroutines: each its own VM, and all
// of them one shared VM.
func TestAddConcurrent(t *testing.T) {
	const goroutines, perVM = 32, 600
	h := New(Options{Now: newClock(t0 + 60_000).Now})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			vm := fmt.Sprintf("vm-%d", g)
			for i := range perVM {
				h.Add(guest(vm, t0+int64(i)*100, float64(i%100)))
				h.Add(guest("shared", t0+30_000, 1)) // one instant: never out of order
			}
		})
	}
	wg.Wait()
	if len(h.vms) != goroutines+1 {
		t.Fatalf("%d VMs, want %d", len(h.vms), goroutines+1)
	}
	for id, v := range h.vms {
		want := perVM
		if id == "shared" {
			want = goroutines * perVM
		}
		if len(v.mins) != 1 || v.mins[0].agg.samples != want || v.ring.n != want {
			t.Errorf("%s: %d minutes, %d samples, ring of %d; want 1, %d, %d", id, len(v.mins), v.mins[0].agg.samples, v.ring.n, want, want)
		}
	}
}

func TestHeldMinutesBounded(t *testing.T) {
	h := New(Options{Now: newClock(t0).Now})
	for m := range int64(maxHeldMinutes + 5) {
		h.Add(guest("a", t0+m*60_000, 1))
	}
	v := h.vms["a"]
	if len(v.mins) != maxHeldMinutes || v.mins[0].minuteMs != t0+5*60_000 {
		t.Errorf("held %d minutes from %d; want %d from %d", len(v.mins), v.mins[0].minuteMs, maxHeldMinutes, t0+5*60_000)
	}
	if n := h.lost.Load(); n != 5 {
		t.Errorf("lost %d minutes, want 5", n)
	}
}

// TestRollupPurity is the case that showed the bug: a VM that spends half
// a minute on the VMM's figures (its resident set above the guest's total,
// its CPU above 100) and half on the guest's. The minute's memory must be
// the guest's alone, never above the guest's total.
func TestRollupPurity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		st := openStore(t, dbURL)
		if _, err := st.CreateVM(context.Background(), store.VM{ID: "p", Name: "p"}); err != nil {
			t.Fatal(err)
		}
		h := newHistory(t, st, newClock(t0+2*60_000), 0)
		for i := range int64(60) {
			var s wire.CombinedSample
			if i < 30 {
				s = host("p", t0+i*1000, 100.5)
				s.MemoryUsedKB = u64(235_804)
			} else {
				s = guest("p", t0+i*1000, 40)
				s.MemoryUsedKB, s.MemoryTotalKB = u64(150_000), u64(208_720)
			}
			h.Add(s)
		}
		if err := h.flush(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		rs := rollupsOf(t, st, "p")
		if len(rs) != 1 {
			t.Fatalf("rollups %+v", rs)
		}
		r := rs[0]
		if r.MemorySource != "guest" || r.MemorySourceSamples != 30 || r.Samples != 60 || r.MemUsedKB.Max > r.MemTotalKB.Avg ||
			r.CPU.Max != 40 || r.Source != "guest" {
			t.Errorf("a minute half host, half guest: %+v", r)
		}
		// The same from the live window, one point for the minute.
		res, err := h.Query(context.Background(), "p", t0, t0+60_000, 60_000)
		if err != nil || len(res.Points) != 1 {
			t.Fatalf("query: %+v, %v", res, err)
		}
		p := res.Points[0]
		if p.MemorySource != "guest" || *p.MemoryUsedKBMax > *p.MemoryTotalKB || *p.CPUUsagePercentMax != 40 {
			t.Errorf("the point of that minute: %+v", p)
		}
	})
}

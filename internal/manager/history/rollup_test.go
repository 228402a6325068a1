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
	return store.Rollup{VMID: "a", MinuteMs: minute, Samples: n, Source: "guest",
		CPU: stat(cpuAvg, cpuMax), MemPct: stat(50, 50), MemUsedKB: stat(1024, 1024), MemTotalKB: stat(2048, 2048),
		NetRx: stat(100, 100), NetTx: stat(200, 200), DiskRead: stat(300, 300), DiskWrite: stat(400, 400)}
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
		want:    []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 2, Source: "host", CPU: stat(100, 150), MemUsedKB: stat(4096, 4096)}},
	}, {
		name:    "a figure averages over the samples that had it; guest wins a tie",
		samples: []wire.CombinedSample{host("a", t0, 30), guest("a", t0+1000, 10)},
		want: []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 2, Source: "guest",
			CPU: stat(20, 30), MemPct: stat(50, 50), MemUsedKB: stat(2560, 4096), MemTotalKB: stat(2048, 2048),
			NetRx: stat(100, 100), NetTx: stat(200, 200), DiskRead: stat(300, 300), DiskWrite: stat(400, 400)}},
	}, {
		name:    "dominant source",
		samples: []wire.CombinedSample{guest("a", t0, 10), host("a", t0+1000, 10), host("a", t0+2000, 10)},
		want: []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 3, Source: "host",
			CPU: stat(10, 10), MemPct: stat(50, 50), MemUsedKB: stat((1024+4096+4096)/3.0, 4096), MemTotalKB: stat(2048, 2048),
			NetRx: stat(100, 100), NetTx: stat(200, 200), DiskRead: stat(300, 300), DiskWrite: stat(400, 400)}},
	}, {
		name:    "none samples count but carry no figures",
		samples: []wire.CombinedSample{none(t0), none(t0 + 1000), guest("a", t0+2000, 40)},
		want:    []store.Rollup{func() store.Rollup { r := full(t0, 3, 40, 40); r.Source = "none"; return r }()},
	}, {
		name:    "only none samples",
		samples: []wire.CombinedSample{none(t0)},
		want:    []store.Rollup{{VMID: "a", MinuteMs: t0, Samples: 1, Source: "none"}},
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

package store

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
)

const minute = int64(60_000)

// rollup is a rollup of vmID at minute index m with every figure set from v.
func rollup(vmID string, m int64, v float64) Rollup {
	st := Stat{Avg: v, Max: v * 2, Valid: true}
	return Rollup{
		VMID: vmID, MinuteMs: m * minute, Samples: 60, Source: wire.SourceGuest, SourceSamples: 60,
		MemorySource: wire.SourceGuest, MemorySourceSamples: 60,
		CPU: st, MemPct: st, MemUsedKB: st, MemTotalKB: st,
		NetRx: st, NetTx: st, DiskRead: st, DiskWrite: st,
	}
}

// minutes returns the minute indexes of rs.
func minutes(rs []Rollup) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, r.MinuteMs/minute)
	}
	return out
}

func mustUpsert(t *testing.T, s Store, rs ...Rollup) {
	t.Helper()
	if err := s.UpsertRollups(context.Background(), rs); err != nil {
		t.Fatalf("UpsertRollups: %v", err)
	}
}

func mustRollups(t *testing.T, s Store, vmID string, since, until int64) []Rollup {
	t.Helper()
	rs, err := s.Rollups(context.Background(), vmID, since, until)
	if err != nil {
		t.Fatalf("Rollups: %v", err)
	}
	return rs
}

func testDeleteCascades(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustCreate(t, s, VM{ID: idB, Name: "b"})
	mustUpsert(t, s, rollup(idA, 1, 1), rollup(idA, 2, 2), rollup(idB, 1, 3))
	if err := s.DeleteVM(ctx, idA); err != nil {
		t.Fatalf("DeleteVM: %v", err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM rollup_1m WHERE vm_id = $1`, idA); n != 0 {
		t.Errorf("%d rollups of the deleted VM remain", n)
	}
	if n := len(mustRollups(t, s, idB, 0, 10*minute)); n != 1 {
		t.Errorf("the other VM has %d rollups, want 1", n)
	}
	_, err := s.GetVM(ctx, idA)
	wantErr(t, "GetVM after DeleteVM", err, ErrNotFound)
	// The id is free again, with no history.
	mustCreate(t, s, VM{ID: idA, Name: "a again"})
	if rs := mustRollups(t, s, idA, 0, 10*minute); len(rs) != 0 {
		t.Errorf("a re-created VM inherited rollups %v", minutes(rs))
	}
}

func testUpsertOverwrites(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustUpsert(t, s, rollup(idA, 5, 10))
	second := rollup(idA, 5, 20)
	second.Samples, second.Source, second.DiskWrite = 12, wire.SourceHost, Stat{}
	second.SourceSamples, second.MemorySource, second.MemorySourceSamples = 12, wire.SourceBalloon, 5
	mustUpsert(t, s, second)
	rs := mustRollups(t, s, idA, 0, 10*minute)
	if len(rs) != 1 || !reflect.DeepEqual(rs[0], second) {
		t.Errorf("after rewriting minute 5: %+v, want only %+v", rs, second)
	}
}

func testStatsRoundTrip(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	want := Rollup{
		VMID: idA, MinuteMs: 7 * minute, Samples: 0, Source: wire.SourceNone, MemorySource: wire.SourceNone,
		CPU:        Stat{Avg: 0, Max: 0, Valid: true}, // zero but present
		MemPct:     Stat{Avg: 12.345678901234, Max: 99.999999, Valid: true},
		MemTotalKB: Stat{Avg: 1 << 40, Max: math.MaxUint32 * 16.0, Valid: true},
		NetRx:      Stat{Avg: 0.001, Max: 1e15, Valid: true},
	}
	mustUpsert(t, s, want)
	rs := mustRollups(t, s, idA, 0, 10*minute)
	if len(rs) != 1 || !reflect.DeepEqual(rs[0], want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", rs, want)
	}
	bad := want
	bad.NetTx = Stat{Avg: math.NaN(), Max: 1, Valid: true}
	wantErr(t, "UpsertRollups with NaN", s.UpsertRollups(context.Background(), []Rollup{bad}), ErrInvalid)
	bad.NetTx, bad.Source = Stat{}, "vsock"
	wantErr(t, "UpsertRollups with source vsock", s.UpsertRollups(context.Background(), []Rollup{bad}), ErrInvalid)
}

func testRange(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustCreate(t, s, VM{ID: idB, Name: "b"})
	for _, m := range []int64{9, 3, 5, 1, 7} { // out of order
		mustUpsert(t, s, rollup(idA, m, float64(m)))
	}
	mustUpsert(t, s, rollup(idB, 4, 1))
	for _, c := range []struct {
		since, until int64
		want         []int64
	}{
		{0, 100 * minute, []int64{1, 3, 5, 7, 9}},
		{3 * minute, 7 * minute, []int64{3, 5}}, // since inclusive, until exclusive
		{3*minute + 1, 7*minute + 1, []int64{5, 7}},
		{10 * minute, 20 * minute, []int64{}},
		{7 * minute, 3 * minute, []int64{}},
	} {
		got := minutes(mustRollups(t, s, idA, c.since, c.until))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Rollups(%d, %d) minutes %v, want %v", c.since, c.until, got, c.want)
		}
	}
}

func testPrune(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustCreate(t, s, VM{ID: idB, Name: "b"})
	mustUpsert(t, s, rollup(idA, 1, 1), rollup(idA, 2, 1), rollup(idA, 3, 1), rollup(idB, 1, 1), rollup(idB, 4, 1))
	n, err := s.PruneRollups(context.Background(), 3*minute)
	if err != nil || n != 3 {
		t.Errorf("PruneRollups = %d, %v; want 3 deleted", n, err)
	}
	if got := minutes(mustRollups(t, s, idA, 0, 10*minute)); !reflect.DeepEqual(got, []int64{3}) {
		t.Errorf("after pruning, vm a has minutes %v, want [3]", got)
	}
	if got := minutes(mustRollups(t, s, idB, 0, 10*minute)); !reflect.DeepEqual(got, []int64{4}) {
		t.Errorf("after pruning, vm b has minutes %v, want [4]", got)
	}
	if n, err := s.PruneRollups(context.Background(), 3*minute); err != nil || n != 0 {
		t.Errorf("second PruneRollups = %d, %v; want 0", n, err)
	}
}

func testFailedBatch(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustUpsert(t, s, rollup(idA, 1, 1))
	// The database refuses the third row (no such VM) after accepting two.
	batch := []Rollup{rollup(idA, 1, 50), rollup(idA, 2, 50), rollup(idX, 2, 50)}
	wantErr(t, "UpsertRollups with a missing VM", s.UpsertRollups(context.Background(), batch), ErrNotFound)
	want := []Rollup{rollup(idA, 1, 1)}
	if got := mustRollups(t, s, idA, 0, 10*minute); !reflect.DeepEqual(got, want) {
		t.Errorf("after a failed batch: %+v, want only the earlier %+v", got, want)
	}
	// A batch refused before reaching the database stores nothing either.
	batch[2] = rollup(idA, 3, 50)
	batch[2].Samples = -1
	wantErr(t, "UpsertRollups with negative samples", s.UpsertRollups(context.Background(), batch), ErrInvalid)
	if got := mustRollups(t, s, idA, 0, 10*minute); !reflect.DeepEqual(got, want) {
		t.Errorf("after a refused batch: %+v, want only %+v", got, want)
	}
}

func testConcurrentWriters(t *testing.T, url string) {
	const writers, perWriter = 8, 200
	ctx := context.Background()
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			// Each writer also registers, re-addresses and reads a VM of its
			// own, so reads and every kind of write interleave.
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", w)
			if _, err := s.CreateVM(ctx, VM{ID: id, Name: id}); err != nil {
				errs <- err
			}
			for i := range perWriter {
				m := int64(w*perWriter + i)
				if err := s.UpsertRollups(ctx, []Rollup{rollup(idA, m, float64(m)), rollup(id, m, 1)}); err != nil {
					errs <- err
				}
				if i%50 == 0 {
					if _, err := s.UpdateGuestIP(ctx, id, fmt.Sprintf("10.0.%d.%d", w, i%250), 0); err != nil {
						errs <- err
					}
					if _, err := s.Rollups(ctx, idA, 0, m*minute); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	if n := len(mustRollups(t, s, idA, 0, writers*perWriter*minute)); n != writers*perWriter {
		t.Errorf("%d rollups stored, want %d", n, writers*perWriter)
	}
}

// testLargeBatch writes a batch big enough for PostgreSQL's COPY path:
// stored, then replaced minute by minute, and refused whole when one
// rollup names an unknown VM.
func testLargeBatch(t *testing.T, url string) {
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	batch := make([]Rollup, 3*copyRollupsMin)
	for i := range batch {
		batch[i] = rollup(idA, int64(i), float64(i))
	}
	batch[5].CPU = Stat{} // a figure without samples: NULL
	mustUpsert(t, s, batch...)
	for i := range batch {
		batch[i].Samples, batch[i].SourceSamples, batch[i].MemorySourceSamples = 70, 7, 70
	}
	mustUpsert(t, s, batch...)
	got := mustRollups(t, s, idA, 0, int64(len(batch))*minute)
	if !reflect.DeepEqual(got, batch) {
		t.Fatalf("stored %d rollups; first %+v, want %+v", len(got), got[0], batch[0])
	}
	bad := append([]Rollup{}, batch...)
	for i := range bad {
		bad[i].Samples = 90
	}
	bad[len(bad)-1].VMID = idX
	wantErr(t, "a large batch with a missing VM", s.UpsertRollups(context.Background(), bad), ErrNotFound)
	if got := mustRollups(t, s, idA, 0, int64(len(batch))*minute); got[0].Samples != 70 {
		t.Errorf("a refused large batch changed what was stored: %+v", got[0])
	}
}

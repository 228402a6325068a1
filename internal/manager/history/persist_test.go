package history

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/manager/store"
)

// addSeconds adds guest samples one second apart for n seconds from
// t0+from s, CPU the second within the minute.
func addSeconds(h *History, vm string, from, n int64) {
	for i := from; i < from+n; i++ {
		h.Add(guest(vm, t0+i*1000, float64(i%60)))
	}
}

// runHistory runs h.Run until the returned stop is called, which returns
// Run's error.
func runHistory(t *testing.T, h *History) (stop func() error) {
	t.Helper()
	h.flushEvery = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestRunPersistsMinutesAndPartialOnShutdown: while running, every flush
// writes the minutes with new samples, the partial one too (so a crash
// loses at most one flush interval), and a clean shutdown writes the rest.
func TestRunPersistsMinutesAndPartialOnShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		st := openStore(t, dbURL, "a")
		c := newClock(t0)
		h := newHistory(t, st, c, 0)
		stop := runHistory(t, h)
		addSeconds(h, "a", 0, 90) // a full minute and half the next
		c.set(t0 + 60_000 + completeGraceMs)
		waitFor(t, "both minutes stored", func() bool { return len(rollupsOf(t, st, "a")) == 2 })
		if got, want := rollupsOf(t, st, "a")[0], full(t0, 60, 29.5, 59); got != want {
			t.Errorf("first minute %+v, want %+v", got, want)
		}
		if got := rollupsOf(t, st, "a")[1]; got != full(t0+60_000, 30, 14.5, 29) {
			t.Errorf("the partial minute while running: %+v", got)
		}
		addSeconds(h, "a", 90, 10) // the partial minute grows
		waitFor(t, "the partial minute rewritten", func() bool { return rollupsOf(t, st, "a")[1].Samples == 40 })
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		rs := rollupsOf(t, st, "a")
		if len(rs) != 2 || rs[1] != full(t0+60_000, 40, 19.5, 39) {
			t.Fatalf("after shutdown: %+v, want the partial second minute with its 40 samples", rs)
		}
	})
}

// TestRestart stops a History mid-minute and starts another on the same
// database: it serves what the first stored and completes the minute
// without overwriting the stored half.
func TestRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		st1, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st1.CreateVM(ctx, store.VM{ID: "a", Name: "a"}); err != nil {
			t.Fatal(err)
		}
		c := newClock(t0)
		h1 := newHistory(t, st1, c, 0)
		stop := runHistory(t, h1)
		addSeconds(h1, "a", 0, 90)
		c.set(t0 + 90_000)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		st1.Close()

		st2 := openStore(t, dbURL)
		h2 := newHistory(t, st2, c, 0)
		addSeconds(h2, "a", 90, 30)
		c.set(t0 + 120_000)
		got, err := h2.Query(ctx, "a", t0, t0+120_000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Resolution != "1m" || len(got.Points) != 2 || got.Points[0].Samples != 60 || got.Points[1].Samples != 60 {
			t.Fatalf("after restart: %s with %d points %+v; want 2 minutes of 60 samples", got.Resolution, len(got.Points), got.Points)
		}
		if err := h2.flush(ctx, true); err != nil {
			t.Fatal(err)
		}
		rs := rollupsOf(t, st2, "a")
		if len(rs) != 2 || rs[0] != full(t0, 60, 29.5, 59) || rs[1] != full(t0+60_000, 60, 29.5, 59) {
			t.Errorf("stored after restart: %+v", rs)
		}
	})
}

// flakyStore fails the first failures calls of UpsertRollups.
type flakyStore struct {
	store.Store
	failures atomic.Int64
	calls    atomic.Int64
}

func (s *flakyStore) UpsertRollups(ctx context.Context, rs []store.Rollup) error {
	s.calls.Add(1)
	if s.failures.Add(-1) >= 0 {
		return errors.New("database is locked")
	}
	return s.Store.UpsertRollups(ctx, rs)
}

func TestStoreErrorsRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		st := &flakyStore{Store: openStore(t, dbURL, "a")}
		st.failures.Store(2)
		c := newClock(t0)
		h := newHistory(t, st, c, 0)
		addSeconds(h, "a", 0, 70)
		c.set(t0 + 60_000 + completeGraceMs)
		for i := range 2 {
			if err := h.flush(ctx, false); err == nil {
				t.Fatalf("flush %d succeeded; the store fails it", i)
			}
		}
		// Meanwhile the held minutes answer queries.
		q, err := h.Query(ctx, "a", t0-60*60_000, t0+120_000, 0)
		if err != nil || len(q.Points) != 2 || q.Points[0].Samples != 60 {
			t.Fatalf("query while failing: %v %+v", err, q.Points)
		}
		if err := h.flush(ctx, false); err != nil {
			t.Fatalf("third flush: %v", err)
		}
		if rs := rollupsOf(t, st, "a"); len(rs) != 1 || rs[0] != full(t0, 60, 29.5, 59) {
			t.Errorf("stored %+v", rs)
		}
		// Shutdown retries too.
		st.failures.Store(2)
		h.finalRetry = time.Millisecond
		if err := h.final(ctx); err != nil {
			t.Fatalf("final: %v", err)
		}
		if rs := rollupsOf(t, st, "a"); len(rs) != 2 || rs[1].Samples != 10 {
			t.Errorf("stored at shutdown %+v", rs)
		}
	})
}

// TestRefusedRollupsDropped: a VM the store does not know (deleted while
// its last samples were held) costs its own rollups only.
func TestRefusedRollupsDropped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		st := &flakyStore{Store: openStore(t, dbURL, "a", "b", "c")}
		c := newClock(t0)
		h := newHistory(t, st, c, 0)
		for _, vm := range []string{"a", "ghost", "b", "c"} {
			addSeconds(h, vm, 0, 60)
		}
		c.set(t0 + 60_000 + completeGraceMs)
		if err := h.flush(ctx, false); err != nil {
			t.Fatalf("flush: %v", err)
		}
		for _, vm := range []string{"a", "b", "c"} {
			if rs := rollupsOf(t, st, vm); len(rs) != 1 {
				t.Errorf("%s: %d rollups stored, want 1", vm, len(rs))
			}
		}
		calls := st.calls.Load()
		if err := h.flush(ctx, false); err != nil || st.calls.Load() != calls {
			t.Errorf("second flush: %v, %d more store calls; want nothing left to write", err, st.calls.Load()-calls)
		}
	})
}

func TestPruneAndForget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		st := openStore(t, dbURL, "a", "b")
		c := newClock(t0)
		h := newHistory(t, st, c, 5*time.Minute)
		for m := range int64(10) {
			h.Add(guest("a", t0+m*60_000, 1))
			h.Add(guest("b", t0+m*60_000, 1))
		}
		if err := h.flush(ctx, true); err != nil {
			t.Fatal(err)
		}
		c.set(t0 + 12*60_000)
		h.maintain(ctx)
		if rs := rollupsOf(t, st, "a"); len(rs) != 3 || rs[0].MinuteMs != t0+7*60_000 {
			t.Errorf("after pruning at minute 12 with 5 minutes kept: %+v", rs)
		}
		c.set(t0 + 14*60_000)
		h.maintain(ctx) // within pruneEvery: nothing
		if rs := rollupsOf(t, st, "a"); len(rs) != 3 {
			t.Errorf("pruned again within pruneEvery: %d left", len(rs))
		}

		h.Forget("b")
		if q, err := h.Query(ctx, "b", 0, 0, 0); err != nil || len(q.Points) != 0 || q.Points == nil {
			t.Errorf("forgotten VM: %v %+v; want no points", err, q.Points)
		}
		h.Add(guest("b", t0+14*60_000, 1))
		if q, _ := h.Query(ctx, "b", 0, 0, 0); len(q.Points) != 1 {
			t.Errorf("after a sample following Forget: %+v", q.Points)
		}
	})
}

// TestSweep forgets a VM that sent nothing for the live window.
func TestSweep(t *testing.T) {
	st := openStore(t, backends[0].newURL(t), "a")
	c := newClock(t0)
	h := newHistory(t, st, c, 0)
	h.Add(guest("a", t0, 1))
	if err := h.flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	c.set(t0 + 16*60_000)
	h.flush(context.Background(), false) // drops the stored minute
	h.maintain(context.Background())
	if h.lookup("a") != nil {
		t.Error("idle VM kept")
	}
}

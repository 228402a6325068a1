package registry

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/manager/store"
)

// listCounter is a store whose ListVMs counts its calls; nothing else of it
// is used.
type listCounter struct {
	store.Store
	lists atomic.Int32
}

func (s *listCounter) ListVMs(context.Context) ([]store.VM, error) {
	s.lists.Add(1)
	return []store.VM{{ID: "a", GuestIP: "10.0.0.1"}}, nil
}

func (s *listCounter) CreateVM(_ context.Context, vm store.VM) (store.VM, error) { return vm, nil }

// TestRegistryReadsOnlyAfterWrites checks the cache: the collector's
// targets cost one query, then none until a write goes through the API's
// store or rereadEvery passes.
func TestRegistryReadsOnlyAfterWrites(t *testing.T) {
	st := &listCounter{}
	r := New(Options{Store: st})
	ctx := context.Background()
	for range 3 {
		ts, err := r.Targets(ctx)
		if err != nil || len(ts) != 1 || ts[0].ID != "a" {
			t.Fatalf("targets = %+v, %v", ts, err)
		}
	}
	if n := st.lists.Load(); n != 1 {
		t.Fatalf("%d queries for three reads, want 1", n)
	}
	api := r.Writes(st)
	if _, err := api.CreateVM(ctx, store.VM{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	r.Targets(ctx)
	if n := st.lists.Load(); n != 2 {
		t.Fatalf("%d queries after a write, want 2", n)
	}
	r.mu.Lock()
	r.readAt = time.Now().Add(-rereadEvery)
	r.mu.Unlock()
	r.Targets(ctx)
	if n := st.lists.Load(); n != 3 {
		t.Fatalf("%d queries after rereadEvery, want 3", n)
	}
	r.Forget("a")
	if ts, _ := r.Targets(ctx); len(ts) != 1 || st.lists.Load() != 4 {
		t.Fatalf("after forget: %d queries, targets %+v; want a fresh read", st.lists.Load(), ts)
	}
}

package events

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
	"github.com/fcmon/fcmon/internal/testsupport/pgtest"
)

// TestEventsRelayedBetweenManagers: two managers' event parts over one
// PostgreSQL database. What one records, its own clients get at once and
// the other's within a relay round or two; each event once, and nobody
// gets back its own.
func TestEventsRelayedBetweenManagers(t *testing.T) {
	pg, err := pgtest.Start("events relay test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	url := pg.NewSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type side struct {
		ev  *Recorder
		mu  sync.Mutex
		got []wire.Event
	}
	open := func() *side {
		st, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s := &side{}
		s.ev = New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), Retention: time.Hour, Count: func(string) {},
			Publish: func(e wire.Event) {
				s.mu.Lock()
				s.got = append(s.got, e)
				s.mu.Unlock()
			}, Shared: true})
		return s
	}
	a, b := open(), open()
	vms, err := a.ev.st.CreateVMs(ctx, []store.VM{{ID: "0b5e4d0c-9a51-4c4e-8a1d-2b1e0c8d9f01", Name: "vm-relay"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.ev.Run(ctx) })
	wg.Go(func() { b.ev.Run(ctx) })
	time.Sleep(1500 * time.Millisecond) // both have begun relaying (from then on, not the history)

	at := time.Now()
	a.ev.Add(wire.Event{VMID: vms[0].ID, Type: wire.EventOOMKill, TimestampMs: at.UnixMilli(), Message: "the guest's OOM killer killed 1 process(es)"})
	b.ev.Add(wire.Event{VMID: vms[0].ID, Type: wire.EventClockSkew, TimestampMs: at.UnixMilli(), Message: "the guest's clock is 6s off the host's"})
	types := func(s *side) []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		for _, e := range s.got {
			out = append(out, e.Type)
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(types(a)) < 2 || len(types(b)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: a got %v, b got %v; want each both events", types(a), types(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("relayed within %v", time.Since(at).Round(time.Millisecond))
	time.Sleep(2500 * time.Millisecond) // more relay rounds: nothing again
	if ta, tb := types(a), types(b); len(ta) != 2 || len(tb) != 2 || ta[0] != wire.EventOOMKill || tb[0] != wire.EventClockSkew {
		t.Errorf("a got %v, b got %v; want its own first, the other's once", ta, tb)
	}
	b.mu.Lock()
	relayed := b.got[1]
	b.mu.Unlock()
	if relayed.ID == 0 || relayed.VMID != vms[0].ID || relayed.Message == "" {
		t.Errorf("the relayed event %+v", relayed)
	}
}

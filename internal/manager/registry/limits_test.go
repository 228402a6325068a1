package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/store"
)

func TestAdmitter(t *testing.T) {
	a := admitter{perMin: 100}
	t0 := time.Unix(1_700_000_000, 0)
	if n := a.take("h", 150, t0); n != 100 {
		t.Fatalf("a burst: %d, want 100", n)
	}
	if n := a.take("h", 10, t0.Add(3*time.Second)); n != 5 {
		t.Errorf("after 3 s: %d, want 5 (100 a minute)", n)
	}
	if n := a.take("other", 10, t0); n != 10 {
		t.Errorf("another host: %d", n)
	}
	if n := a.take("h", 1000, t0.Add(time.Hour)); n != 100 {
		t.Errorf("after an hour: %d, want the burst again", n)
	}
	if n := (&admitter{}).take("h", 1e6, t0); n != 1e6 {
		t.Errorf("no limit: %d", n)
	}
}

func TestExitLimiter(t *testing.T) {
	l := exitLimiter{perMin: 2}
	t0 := time.Unix(1_700_000_000, 0)
	var sent int
	for i := range 10 {
		if l.allow("h", "http://h", fmt.Sprint("vm-", i), t0.Add(time.Duration(i)*time.Second)) {
			sent++
		}
	}
	if sent != 2 {
		t.Fatalf("%d events of their own, want 2", sent)
	}
	if _, ok := l.due("h", t0.Add(30*time.Second)); ok {
		t.Fatal("a summary before the minute passed")
	}
	e, ok := l.due("h", t0.Add(61*time.Second))
	if !ok || e.Detail["aggregated"] != "8" || e.VMID != "vm-9" || e.Type != wire.EventVMMExit || !strings.Contains(e.Message, "8 more VMs") {
		t.Fatalf("summary %+v, %v", e, ok)
	}
	if _, ok := l.due("h", t0.Add(200*time.Second)); ok {
		t.Error("a second summary of nothing")
	}
	if !l.allow("h", "http://h", "vm-x", t0.Add(62*time.Second)) {
		t.Error("a new minute starts with events of their own")
	}
}

// churnStore is a real SQLite store for the registry's limits.
func churnStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "fcmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateHost(context.Background(), store.Host{ID: "11111111-1111-4111-8111-111111111111", URL: "http://10.0.0.1:9091"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestChurnBounded: a host reporting new VM ids every poll gets at most
// its rate of them registered, the registry never holds more than MaxVMs
// (the longest gone forgotten first), gone VMs without history are
// forgotten after ForgetUnsampledAfter, and their exits make a bounded
// number of events.
func TestChurnBounded(t *testing.T) {
	st := churnStore(t)
	clock := time.Now()
	tick := func() { clock = clock.Add(50 * time.Millisecond) } // the polls come within a second of each other
	var events []wire.Event
	r := New(Options{Store: st, Limits: Limits{NewPerHostPerMinute: 300, MaxVMs: 500, ForgetUnsampledAfter: time.Minute, ExitEventsPerHostPerMinute: 10},
		OnEvent: func(e wire.Event) { events = append(events, e) }, Clock: func() time.Time { return clock }})
	forgotten := 0
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ids := range r.Forgotten() {
			forgotten += len(ids)
		}
	}()
	h := collector.HostTarget{ID: "11111111-1111-4111-8111-111111111111", URL: "http://10.0.0.1:9091"}
	ctx := context.Background()
	registered := 0
	for poll := range 20 {
		vms := make([]collector.HostVM, 200)
		for i := range vms {
			vms[i] = collector.HostVM{HostVMID: fmt.Sprintf("churn-%d-%d", poll, i), Discovered: true}
		}
		ids, err := r.Register(ctx, h, "fc-1", vms, nil)
		if err != nil {
			t.Fatalf("poll %d: %v", poll, err)
		}
		registered += len(ids)
		tick()
		if n := r.Count(); n > 500 {
			t.Fatalf("poll %d: the registry holds %d VMs, over --max-vms 500", poll, n)
		}
	}
	// 20 polls in a second: the burst of 300 and 5 more (300 a minute).
	if registered != 304 && registered != 305 {
		t.Errorf("%d VMs registered, want the burst of 300 and the second's 5", registered)
	}
	if len(events) > 10 {
		t.Errorf("%d vmm_exit events, want at most 10 within the minute", len(events))
	}
	all, _ := st.ListVMs(ctx)
	if len(all) > 500 {
		t.Errorf("the store holds %d VMs", len(all))
	}
	// Later: the summary of the exits held back, and the unsampled gone
	// VMs forgotten.
	r.pruneOnce(ctx, clock.Add(2*time.Minute), 7*24*time.Hour)
	close(r.forgotten)
	<-drained
	summary := events[len(events)-1]
	if summary.Detail["aggregated"] == "" {
		t.Errorf("no summary of the exits held back: %+v", summary)
	}
	left, _ := st.ListVMs(ctx)
	live := 0
	for _, vm := range left {
		if vm.GoneMs == 0 {
			live++
		}
	}
	if len(left) != live || forgotten == 0 {
		t.Errorf("after the unsampled were forgotten: %d VMs, %d live, %d forgotten", len(left), live, forgotten)
	}
}

// TestMaxVMsForgetsLongestGone: at --max-vms, room is made by forgetting
// the VMs gone longest, and new ones wait only while every VM is live.
func TestMaxVMsForgetsLongestGone(t *testing.T) {
	st := churnStore(t)
	r := New(Options{Store: st, Limits: Limits{MaxVMs: 10}})
	go func() {
		for range r.Forgotten() {
		}
	}()
	h := collector.HostTarget{ID: "11111111-1111-4111-8111-111111111111", URL: "http://10.0.0.1:9091"}
	ctx := context.Background()
	set := func(prefix string, n int) []collector.HostVM {
		out := make([]collector.HostVM, n)
		for i := range out {
			out[i] = collector.HostVM{HostVMID: fmt.Sprintf("%s-%d", prefix, i)}
		}
		return out
	}
	if ids, err := r.Register(ctx, h, "", set("a", 10), nil); len(ids) != 10 || err != nil {
		t.Fatalf("first 10: %d, %v", len(ids), err)
	}
	ids, err := r.Register(ctx, h, "", set("b", 4), nil) // the a's go, making room
	if len(ids) != 4 || err != nil {
		t.Fatalf("4 new after 10 gone: %d, %v", len(ids), err)
	}
	if n := r.Count(); n != 10 {
		t.Errorf("the registry holds %d", n)
	}
	ids, err = r.Register(ctx, h, "", append(set("b", 4), set("c", 10)...), nil)
	if len(ids) != 10 || err != nil {
		t.Errorf("over the limit with every VM live: %d registered, %v", len(ids), err)
	}
}

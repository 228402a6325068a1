package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func testEvents(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	mustCreate(t, s, VM{ID: idB, Name: "b"})
	stored, err := s.AddEvents(ctx, []wire.Event{
		{VMID: idA, Type: wire.EventOOMKill, TimestampMs: 1000, Message: "1 process killed", Detail: map[string]string{"oom_kills": "1"}},
		{VMID: idB, Type: wire.EventReboot, TimestampMs: 2000, Message: "rebooted"},
		{VMID: idX, Type: wire.EventReboot, TimestampMs: 2500, Message: "of a VM not there"},
		{VMID: idA, Type: wire.EventRestore, TimestampMs: 3000, Message: "restored"},
	})
	if err != nil || len(stored) != 3 || stored[0].ID == 0 || stored[1].ID == stored[0].ID {
		t.Fatalf("AddEvents = %+v, %v", stored, err)
	}
	all, err := s.Events(ctx, EventQuery{Limit: 10})
	if err != nil || len(all) != 3 || all[0].Type != wire.EventRestore || all[2].Detail["oom_kills"] != "1" {
		t.Fatalf("Events = %+v, %v", all, err)
	}
	if ev, _ := s.Events(ctx, EventQuery{VMID: idA, Limit: 10}); len(ev) != 2 {
		t.Errorf("events of a: %+v", ev)
	}
	if ev, _ := s.Events(ctx, EventQuery{Type: wire.EventReboot, SinceMs: 1500, UntilMs: 2500, Limit: 10}); len(ev) != 1 || ev[0].VMID != idB {
		t.Errorf("reboots in [1500, 2500): %+v", ev)
	}
	// A label selector's VMs, as one parameter however many.
	many := []string{idB}
	for i := range 5000 {
		many = append(many, fmt.Sprintf("%08d-0000-4000-8000-000000000000", i))
	}
	if ev, err := s.Events(ctx, EventQuery{VMIDs: many, Limit: 10}); err != nil || len(ev) != 1 || ev[0].VMID != idB {
		t.Errorf("events of 5001 VMs, b among them: %+v, %v", ev, err)
	}
	if ev, err := s.Events(ctx, EventQuery{VMIDs: []string{}, Limit: 10}); err != nil || len(ev) != 0 {
		t.Errorf("events of no VMs: %+v, %v", ev, err)
	}
	if ev, _ := s.Events(ctx, EventQuery{Limit: 1}); len(ev) != 1 {
		t.Errorf("limit 1: %+v", ev)
	}
	if _, err := s.AddEvents(ctx, []wire.Event{{VMID: idA}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an event without a type: %v", err)
	}
	if err := s.DeleteVM(ctx, idB); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEvents(ctx, 2000); err != nil || n != 1 {
		t.Errorf("PruneEvents = %d, %v", n, err)
	}
	if ev, _ := s.Events(ctx, EventQuery{Limit: 10}); len(ev) != 1 || ev[0].Type != wire.EventRestore {
		t.Errorf("after deleting b and pruning: %+v", ev)
	}
}

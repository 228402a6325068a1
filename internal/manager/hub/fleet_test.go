package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// readRaw reads one message as a map of its fields.
func readRaw(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("writing %s: %v", msg, err)
	}
}

// TestFleetStreamCarriesWatchedVMs: a fleet client gets the samples of the
// VMs it watches only, a new watch replacing the old; every event and
// every fleet summary; and an error message, changing nothing, for a
// request it cannot read.
func TestFleetStreamCarriesWatchedVMs(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.dial("/fleet")
	e.waitSubscribers(1)
	if e.h.FleetClients() != 1 {
		t.Fatalf("FleetClients = %d", e.h.FleetClients())
	}
	send(t, c, `{"watch":["a","b"]}`)
	eventually(t, 5*time.Second, func() bool { return e.watchers("a") == 1 && e.watchers("b") == 1 },
		func() string { return "the watch request never took" })
	for _, id := range []string{"a", "x", "b"} {
		e.h.Publish(sample(id, 1))
	}
	if m := readRaw(t, c); m["vm_id"] != "a" {
		t.Errorf("first message %v, want a's sample", m)
	}
	if m := readRaw(t, c); m["vm_id"] != "b" {
		t.Errorf("second message %v, want b's sample (x is not watched)", m)
	}

	for _, bad := range []string{`{"watch":"a"}`, `not json`, `{"watch":[""]}`, `{"watch":[],"x":1}`, `{"watch":["a"],"watch":["b"]}`,
		`{"Watch":["b"]}`,
		`{"watch":["` + strings.Repeat("z", 65) + `"]}`,
		`{"watch":[` + strings.TrimSuffix(strings.Repeat(`"v",`, wire.MaxWatch+1), ",") + `]}`} {
		send(t, c, bad)
		if m := readRaw(t, c); m["kind"] != "error" || m["error"] == "" {
			t.Errorf("after %.40s: %v, want an error message", bad, m)
		}
	}
	if e.watchers("a") != 1 {
		t.Errorf("a bad request changed the watched set")
	}

	send(t, c, `{"watch":["x"]}`)
	eventually(t, 5*time.Second, func() bool { return e.watchers("a") == 0 && e.watchers("x") == 1 },
		func() string { return "the second watch request did not replace the first" })
	e.h.Publish(sample("a", 2))
	e.h.PublishEvent(wire.Event{VMID: "q", Type: wire.EventOOMKill, TimestampMs: 3})
	e.h.PublishFleet(wire.Fleet{VMs: 7})
	e.h.Publish(sample("x", 4))
	for i, want := range []string{"event", "fleet", "x"} {
		m := readRaw(t, c)
		got, _ := m["kind"].(string)
		if got == "" {
			got, _ = m["vm_id"].(string)
		}
		if got != want {
			t.Errorf("message %d: %v, want %s", i, m, want)
		}
		if want == "fleet" && m["vms"] != float64(7) {
			t.Errorf("fleet message %v", m)
		}
	}
	// A text message that is not UTF-8 ends the stream (RFC 6455: 1007).
	send(t, c, "{\"watch\":[\"\xff\"]}")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusInvalidFramePayloadData {
				t.Errorf("after invalid UTF-8: %v (close %d), want close 1007", err, code)
			}
			break
		}
	}
	e.waitSubscribers(0)
	if n := e.watchers("x"); n != 0 {
		t.Errorf("a departed client still watches x (%d)", n)
	}
}

// TestFleetStreamManyWatchers: samples of one VM reach each of 50 clients
// watching it and none of 50 watching others.
func TestFleetStreamManyWatchers(t *testing.T) {
	e := newEnv(t, Options{})
	var hot, cold []*websocket.Conn
	for i := range 100 {
		c := e.dial("/fleet")
		if i%2 == 0 {
			send(t, c, `{"watch":["hot"]}`)
			hot = append(hot, c)
		} else {
			send(t, c, fmt.Sprintf(`{"watch":["cold-%d"]}`, i))
			cold = append(cold, c)
		}
	}
	e.waitSubscribers(100)
	eventually(t, 10*time.Second, func() bool { return e.watchers("hot") == 50 },
		func() string { return fmt.Sprintf("%d watchers of hot", e.watchers("hot")) })
	e.h.Publish(sample("hot", 1))
	e.h.PublishFleet(wire.Fleet{VMs: 1})
	for _, c := range hot {
		if m := readRaw(t, c); m["vm_id"] != "hot" {
			t.Fatalf("a watcher of hot got %v first", m)
		}
	}
	for _, c := range cold {
		if m := readRaw(t, c); m["kind"] != "fleet" {
			t.Fatalf("a client not watching hot got %v first", m)
		}
	}
}

// watchers counts the fleet clients watching id.
func (e *env) watchers(id string) int {
	e.h.mu.RLock()
	defer e.h.mu.RUnlock()
	return len(e.h.watched[id])
}

// TestScopedClients: a client that may see some VMs only gets their
// samples, events and watches, and the summaries of its own selection.
func TestScopedClients(t *testing.T) {
	e := newEnv(t, Options{})
	all := e.dial("/all?only=a")
	fleet := e.dial("/fleet?only=a&label=tenant%3Dacme")
	e.waitSubscribers(2)
	sels := e.h.FleetSelections()
	if len(sels) != 1 || sels[0].String() != "tenant=acme" {
		t.Fatalf("FleetSelections = %v", sels)
	}
	send(t, fleet, `{"watch":["a","b"]}`)
	eventually(t, 5*time.Second, func() bool { return e.watchers("a") == 1 },
		func() string { return "the watch request never took" })
	if e.watchers("b") != 0 {
		t.Error("a scoped client watches a VM outside its scope")
	}
	e.h.PublishFleet(wire.Fleet{VMs: 100})                  // the whole fleet's: not this client's
	e.h.PublishEvent(wire.Event{VMID: "b", Type: "reboot"}) // outside
	e.h.Publish(sample("b", 1))                             // outside
	sel := sels[0]
	e.h.PublishFleetOf(sel, wire.Fleet{VMs: 2})
	e.h.PublishEvent(wire.Event{VMID: "a", Type: "reboot"})
	e.h.Publish(sample("a", 1))
	if m := readRaw(t, fleet); m["kind"] != "fleet" || m["vms"] != float64(2) {
		t.Errorf("fleet client's first message %v, want the summary of its selection", m)
	}
	if m := readRaw(t, fleet); m["kind"] != "event" || m["vm_id"] != "a" {
		t.Errorf("fleet client's second message %v, want a's event", m)
	}
	if m := readRaw(t, fleet); m["vm_id"] != "a" {
		t.Errorf("fleet client's third message %v, want a's sample", m)
	}
	if m := readRaw(t, all); m["kind"] != "event" || m["vm_id"] != "a" {
		t.Errorf("all-VM client's first message %v, want a's event", m)
	}
	if m := readRaw(t, all); m["vm_id"] != "a" {
		t.Errorf("all-VM client's second message %v, want a's sample", m)
	}
}

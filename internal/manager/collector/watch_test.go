package collector

import (
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func u64p(v uint64) *uint64 { return &v }

func guestFacts(at time.Time, boot string, uptime, oom uint64) facts {
	return facts{at: at, source: wire.SourceGuest, memSource: wire.SourceGuest, guest: true, bootID: boot,
		uptime: uptime, oomKills: u64p(oom), started: 1000, hasSkew: true, skewMs: -300, guestCPU: 40, guestUsed: 0.5}
}

func types(events []wire.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func TestWatchEvents(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	w := newWatch(&Options{ClockSkew: 5 * time.Second, CrossCheckAfter: 10 * time.Second})
	step := func(name string, f facts, want ...string) []wire.Event {
		t.Helper()
		got := w.observe("vm", f)
		if len(got) != len(want) {
			t.Fatalf("%s: events %v, want %v", name, types(got), want)
		}
		for i := range want {
			if got[i].Type != want[i] || got[i].VMID != "vm" || got[i].TimestampMs != f.at.UnixMilli() || got[i].Message == "" {
				t.Fatalf("%s: event %+v, want type %s", name, got[i], want[i])
			}
		}
		return got
	}
	step("first sight", guestFacts(at(0), "b1", 100, 0))
	step("steady", guestFacts(at(1), "b1", 101, 0))
	e := step("an OOM kill", guestFacts(at(2), "b1", 102, 2), wire.EventOOMKill)
	if e[0].Detail["new"] != "2" || e[0].Detail["from"] != "guest" {
		t.Errorf("oom detail %v", e[0].Detail)
	}
	step("uptime back: a restore", guestFacts(at(3), "b1", 50, 2), wire.EventRestore)
	step("after the restore, counters are the new epoch's", guestFacts(at(4), "b1", 51, 2))
	step("a new boot", guestFacts(at(5), "b2", 3, 0), wire.EventReboot)
	f := guestFacts(at(6), "b2", 4, 0)
	f.started = 2000
	step("the agent restarted", f, wire.EventAgentRestart)
	f = guestFacts(at(7), "b2", 5, 0)
	f.started, f.skewMs = 2000, 61_000
	e = step("the clock 61 s ahead", f, wire.EventClockSkew)
	if e[0].Detail["skew_ms"] != "61000" {
		t.Errorf("skew detail %v", e[0].Detail)
	}
	f.at, f.uptime = at(8), 6
	step("still skewed: said once", f)
	f = facts{at: at(9), source: wire.SourceVCPU, memSource: wire.SourceBalloon, balloonOOM: u64p(5)}
	e = step("the guest agent silent", f, wire.EventSourceChange)
	if e[0].Detail["cpu_to"] != wire.SourceVCPU || e[0].Detail["memory_from"] != wire.SourceGuest {
		t.Errorf("source change detail %v", e[0].Detail)
	}
	f.at, f.balloonOOM = at(10), u64p(6)
	step("an OOM kill the balloon saw", f, wire.EventOOMKill)
	// Cross-check: the guest says 90 % while its vCPU threads used 10 %.
	for s := 11; s <= 30; s++ {
		g := guestFacts(at(s), "b2", uint64(s), 0)
		g.started, g.guestCPU, g.hasVCPU, g.vcpuCPU = 2000, 90, true, 10
		want := []string{}
		if s == 11 {
			want = append(want, wire.EventSourceChange)
		}
		if s == 21 { // 10 s after it began
			want = append(want, wire.EventCrossCheck)
		}
		step("cross-check", g, want...)
	}
}

func TestWatchThresholdsOff(t *testing.T) {
	w := newWatch(&Options{ClockSkew: -1, CrossCheckAfter: -1})
	t0 := time.Now()
	for s := range 100 {
		f := guestFacts(t0.Add(time.Duration(s)*time.Second), "b", uint64(s), 0)
		f.skewMs, f.hasVCPU, f.vcpuCPU = 3_600_000, true, 99
		f.guestCPU = 1
		if ev := w.observe("vm", f); len(ev) != 0 {
			t.Fatalf("events with the checks off: %v", types(ev))
		}
	}
}

// The guest agent's own evidence: VMClock's generation counter (counted by
// the agent) and its clock put forward to the host's time.
func TestWatchGuestAgentRestores(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	w := newWatch(&Options{ClockSkew: 5 * time.Second})
	n := 0
	obs := func(name string, restores uint64, stepMs, skewMs int64, want ...string) []wire.Event {
		t.Helper()
		n++
		f := guestFacts(t0.Add(time.Duration(n)*time.Second), "b1", uint64(100+n), 0)
		f.guestMs, f.restores, f.clockStepMs, f.skewMs = int64(n), u64p(restores), stepMs, skewMs
		got := w.observe("vm", f)
		if len(got) != len(want) {
			t.Fatalf("%s: events %v, want %v", name, types(got), want)
		}
		return got
	}
	obs("first sight, with restores already counted", 2, 0, 0)
	e := obs("the agent saw a restore", 3, 0, 0, wire.EventRestore)
	if e[0].Detail["from"] != "vmclock" || e[0].Detail["restores_detected"] != "3" {
		t.Errorf("vmclock restore detail %v", e[0].Detail)
	}
	obs("the same count", 3, 0, 0)
	e = obs("clock put forward 90 s to the host's", 3, 90_000, -200, wire.EventRestore)
	if e[0].Detail["from"] != "clock_step" || e[0].Detail["clock_step_ms"] != "90000" {
		t.Errorf("clock step detail %v", e[0].Detail)
	}
	n-- // the same guest sample read again (the host agent had no newer one)
	obs("the same sample again", 3, 90_000, -200)
	obs("the same step, still shown a second later", 3, 90_000, -150)
	obs("and again", 3, 90_000, -100)
	obs("clock set 60 s ahead by hand", 3, 60_000, 60_000, wire.EventClockSkew)
	obs("clock put back", 3, -60_000, 0)
	obs("a small step", 3, 3_000, 0)
}

package sampler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/testsupport/vmclockpage"
)

// A restore is seen when VMClock's generation counter changes, and only
// then: not when the disruption marker alone changes (a live migration), not
// when the device first appears.
func TestRestoreFromVMClock(t *testing.T) {
	tr := newTree(t)
	c := &clock{now: time.UnixMilli(1763840000000)}
	dev := filepath.Join(t.TempDir(), "vmclock0")
	s := New(Options{FS: procfs.NewFS(filepath.Join(tr.dir, "proc"), filepath.Join(tr.dir, "sys")), Now: c.Now, VMClockPath: dev})
	page := func(p vmclockpage.Page) {
		t.Helper()
		if err := os.WriteFile(dev, p.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func() *Snapshot {
		c.now = c.now.Add(time.Second)
		return s.Sample()
	}

	// No device: no VMClock figures, no error.
	m := step().Metrics
	if r := m.Restore; r == nil || r.VMGeneration != nil || r.ClockDisruption != nil || r.Detected != 0 || len(m.Errors) != 0 {
		t.Fatalf("without the device: %+v, errors %v", r, m.Errors)
	}
	page(vmclockpage.Page{DisruptionMarker: 1, Generation: 4, HasGeneration: true})
	m = step().Metrics
	if r := m.Restore; r.VMGeneration == nil || *r.VMGeneration != 4 || *r.ClockDisruption != 1 || r.Detected != 0 {
		t.Fatalf("device appeared: %+v", r)
	}
	page(vmclockpage.Page{Seq: 2, DisruptionMarker: 2, Generation: 4, HasGeneration: true})
	if r := step().Metrics.Restore; r.Detected != 0 {
		t.Fatalf("a disruption alone (a migration) taken for a restore: %+v", r)
	}
	page(vmclockpage.Page{Seq: 4, DisruptionMarker: 3, Generation: 5, HasGeneration: true})
	snap := step()
	if r := snap.Metrics.Restore; r.Detected != 1 || r.LastMs != c.now.UnixMilli() || *r.VMGeneration != 5 {
		t.Fatalf("generation 4 → 5: %+v", r)
	}
	for _, want := range []string{"guest_agent_restores_detected_total 1\n", "guest_agent_vmclock_generation 5\n",
		"guest_agent_vmclock_disruption_marker 3\n", "guest_agent_clock_steps_total 0\n"} {
		if !strings.Contains(string(snap.Prom), want) {
			t.Errorf("Prometheus text lacks %q", want)
		}
	}
	if !strings.Contains(string(snap.JSON), `"restore":{"detected":1,"last_ms":`) {
		t.Errorf("JSON: %s", snap.JSON)
	}
	// Unchanged: nothing new. A page caught mid-update is an error of
	// this sample, and the count stands.
	if r := step().Metrics.Restore; r.Detected != 1 {
		t.Fatalf("unchanged page: %+v", r)
	}
	page(vmclockpage.Page{Seq: 7, Generation: 6, HasGeneration: true})
	m = step().Metrics
	if r := m.Restore; r.Detected != 1 || r.VMGeneration != nil || len(m.Errors) != 1 || !strings.HasPrefix(m.Errors[0], "vmclock: ") {
		t.Fatalf("odd seq_count: %+v, errors %v", r, m.Errors)
	}
}

// A sampler's own clock readings, a second apart in both wall and
// monotonic time, are no clock step.
func TestNoClockStepWhenClocksAgree(t *testing.T) {
	tr := newTree(t)
	s := New(Options{FS: procfs.NewFS(filepath.Join(tr.dir, "proc"), filepath.Join(tr.dir, "sys"))})
	s.Sample()
	time.Sleep(20 * time.Millisecond)
	if r := s.Sample().Metrics.Restore; r.ClockSteps != 0 || r.ClockStepMs != 0 {
		t.Errorf("steps without a clock change: %+v", r)
	}
}

// TestClockStepHeld: a step of the wall clock shows in the samples for
// stepHold after it, so a reader that misses one sample still sees it,
// and is counted once.
func TestClockStepHeld(t *testing.T) {
	var f restore
	at := time.Now()
	for i, tt := range []struct {
		advance, step time.Duration
		wantMs        int64
		wantSteps     uint64
	}{
		{time.Second, 0, 0, 0},
		{time.Second, 90 * time.Second, 90_000, 1},  // put forward 90 s
		{time.Second, 0, 90_000, 1},                 // still shown, counted once
		{8 * time.Second, 0, 90_000, 1},             // 9 s after it
		{time.Second, 0, 0, 1},                      // 10 s: gone
		{time.Second, 500 * time.Millisecond, 0, 1}, // NTP's slew-sized: no step
		{time.Second, -2 * time.Second, -2000, 2},   // put back: a new step
	} {
		at = at.Add(tt.advance)
		f.observeStep(at, tt.step)
		if f.step.Milliseconds() != tt.wantMs || f.stepCount != tt.wantSteps {
			t.Errorf("window %d: step %v, %d steps; want %d ms, %d", i, f.step, f.stepCount, tt.wantMs, tt.wantSteps)
		}
	}
}

package cgroup

import (
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/cgtest"
)

// TestV1ThrottledForReal: a busy process in a real cgroup v1 with a CPU
// quota of a fifth of a core and a memory limit, as the jailer's
// --cgroup-version 1 makes them, reads as throttled, with its quota and
// limit. This machine's hierarchies are v1; on a v2 host the test skips.
func TestV1ThrottledForReal(t *testing.T) {
	g := cgtest.New(t, cgtest.Quota(0.2, 256<<20))
	pid := cgtest.Busy(t)
	g.Add(t, pid)
	tr := NewTracker(FS{}, time.Second)
	tr.Acquire(pid)
	time.Sleep(1500 * time.Millisecond)
	tr.ReadAll()
	st, err := tr.Stats(pid)
	if err != nil || st == nil {
		t.Fatalf("Stats: %+v, %v", st, err)
	}
	t.Logf("v1: usage %.2f s, %.1f %% of a core over %d ms, %d of %d periods throttled (%.0f %%), %.2f s waited",
		st.CPUUsageSeconds, st.CPUUsagePercent, st.WindowMs, st.CPUThrottledPeriods, st.CPUPeriods, st.ThrottledPercent, st.CPUThrottledSeconds)
	if st.Version != 1 || st.Path != "/"+g.Name {
		t.Errorf("version %d path %q", st.Version, st.Path)
	}
	if st.CPUQuotaCores == nil || *st.CPUQuotaCores != 0.2 || st.CPUPeriodUs != 100000 {
		t.Errorf("quota %v period %d, want 0.2 of 100000", st.CPUQuotaCores, st.CPUPeriodUs)
	}
	// A loaded machine may not run the process in some periods: those
	// are not throttled, so the share is not asserted, only that it is.
	if st.CPUThrottledPeriods == 0 || st.ThrottledPercent <= 0 || st.CPUThrottledSeconds <= 0 {
		t.Errorf("a busy process at a fifth of a core is not throttled: %d periods, %.0f %%", st.CPUThrottledPeriods, st.ThrottledPercent)
	}
	if st.CPUUsagePercent > 30 || st.CPUUsagePercent <= 0 {
		t.Errorf("CPU %.1f %% of a core under a quota of 20 %%", st.CPUUsagePercent)
	}
	// (Its memory stays charged where it was: v1 moves no charge with a
	// process unless memory.move_charge_at_immigrate says so.)
	if st.MemoryLimitBytes == nil || *st.MemoryLimitBytes != 256<<20 {
		t.Errorf("memory limit %v, want 256 MiB", st.MemoryLimitBytes)
	}
}

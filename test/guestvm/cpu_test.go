package guestvm

import (
	"sort"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestCPUUsage loads a 2-vCPU guest with busy loops and checks cpu_usage_percent follows.
// It is deliberately not parallel: Go runs it before the parallel tests of this package,
// so the host's two cores are free for the guest's vCPUs.
func TestCPUUsage(t *testing.T) {
	vm := bootAgent(t, vmtest.Config{CPUs: 2, MemoryMiB: 256})
	steps := []struct {
		name     string
		cmd      string
		min, max float64
	}{
		{"idle", "true", 0, 15},
		{"one busy loop", "yes >/dev/null &", 40, 60},
		{"two busy loops", "yes >/dev/null &", 85, 100},
	}
	for _, step := range steps {
		vm.MustRun(step.cmd)
		got := medianCPU(t, vm, 5)
		if got < step.min || got > step.max {
			t.Errorf("%s: cpu_usage_percent = %.1f (median of 5 samples), want %.0f–%.0f",
				step.name, got, step.min, step.max)
		}
	}

	// Back to idle within three intervals: the first sample after the kill may still
	// cover busy time, a later one must not.
	vm.MustRun("killall yes")
	s := metrics(t, vm)
	var seen []float64
	for i := 0; i < 3; i++ {
		s = nextSample(t, vm, s)
		seen = append(seen, s.CPUUsagePercent)
		if s.CPUUsagePercent < 15 {
			return
		}
	}
	t.Errorf("cpu_usage_percent %v in the three samples after the busy loops were killed, want one below 15", seen)
}

// medianCPU returns the median cpu_usage_percent of n consecutive samples whose windows
// start after the call. One sample can catch a stray burst (the console, a kernel
// worker) on a slow emulated CPU; the median of five cannot.
func medianCPU(t *testing.T, vm *vmtest.VM, n int) float64 {
	t.Helper()
	s := sampleAfter(t, vm, 2)
	vals := []float64{s.CPUUsagePercent}
	for len(vals) < n {
		s = nextSample(t, vm, s)
		vals = append(vals, s.CPUUsagePercent)
	}
	sort.Float64s(vals)
	t.Logf("cpu_usage_percent samples %v", vals)
	return vals[len(vals)/2]
}

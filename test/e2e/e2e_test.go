package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/demo"
)

// schedulingMargin is what a loaded two-core machine, which also runs the two
// TCG guests, may add to a deadline counted in poll intervals.
const schedulingMargin = 500 * time.Millisecond

// TestSystem runs the original integration — guests that register their own
// address, polled directly, a host agent as the fallback — and checks, in order: both guests
// register themselves; samples come from their agents; memory totals are each
// guest's own; the stressed guest is 40–90 % busy and the idle one under 20 %;
// killing one agent falls back to its QEMU's host-side figures within two poll
// intervals while the other guest is unaffected, and restarting it brings the
// guest source back; a manager restart keeps the VMs and their history; the
// manager's /metrics parses with Prometheus's parser and holds both VMs, and the
// Grafana dashboard asks only for metrics it exports.
func TestSystem(t *testing.T) {
	began := time.Now()
	s := startSystem(t)
	stressed, idle := s.guests[0], s.guests[1]
	if !stressed.Stress || idle.Stress {
		t.Fatalf("demo.Guests should list the stressed guest first: %+v", demo.Guests)
	}
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		at := time.Now()
		ok := t.Run(name, f)
		t.Logf("%s: %v", name, time.Since(at).Round(100*time.Millisecond))
		if !ok {
			t.FailNow()
		}
	}
	step("SelfRegistration", func(t *testing.T) { s.checkRegistered(t) })
	step("GuestSamples", func(t *testing.T) {
		for _, g := range s.guests {
			smp := s.waitFor(t, g, 20*time.Second, "a sample from the guest agent", isSource(wire.SourceGuest))
			if !smp.GuestAgent.Reachable || smp.CPUUsagePercent == nil || smp.UptimeSeconds == nil {
				t.Errorf("%s: guest sample %s", g.Name, show(smp))
			}
		}
	})
	step("MemoryTotals", func(t *testing.T) { s.checkMemory(t) })
	step("CPU", func(t *testing.T) { s.checkCPU(t, stressed, idle) })
	step("FallbackAndRecovery", func(t *testing.T) { s.checkFallback(t, stressed, idle) })
	step("ManagerRestart", func(t *testing.T) { s.checkRestart(t, began) })
	step("Prometheus", func(t *testing.T) { s.checkPrometheus(t) })
	t.Logf("whole system test: %v", time.Since(began).Round(100*time.Millisecond))
}

// vmRecord is the part of a registry entry checked here.
type vmRecord struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	GuestIP   string `json:"guest_ip"`
	GuestPort int    `json:"guest_port"`
	VMMPID    int    `json:"vmm_pid"`
}

// checkRegistered waits until each guest's agent has posted its advertised
// address, 127.0.0.1 and its host forward, to the manager.
func (s *system) checkRegistered(t *testing.T) {
	for _, g := range s.guests {
		deadline := time.Now().Add(30 * time.Second)
		var vm vmRecord
		for {
			if err := s.client.Do(context.Background(), "GET", "/v1/vms/"+g.id, nil, &vm, http.StatusOK); err != nil {
				t.Fatal(err)
			}
			if vm.GuestIP == "127.0.0.1" && vm.GuestPort == g.hostPort {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: its agent did not register 127.0.0.1:%d within 30s; record %+v", g.Name, g.hostPort, vm)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if vm.Name != g.Name || vm.VMMPID != g.vm.PID() {
			t.Errorf("%s: record %+v, want name %s and vmm_pid %d (QEMU)", g.Name, vm, g.Name, g.vm.PID())
		}
	}
}

// checkMemory compares each guest's memory_total_kb with MemTotal read over its
// console; the guests were given different -m, so the totals differ too.
func (s *system) checkMemory(t *testing.T) {
	totals := map[uint64]string{}
	for _, g := range s.guests {
		fields := strings.Fields(g.run(t, "grep MemTotal /proc/meminfo"))
		memTotal, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("%s: MemTotal line %q", g.Name, fields)
		}
		smp := s.waitFor(t, g, 5*time.Second, "a guest sample", isSource(wire.SourceGuest))
		if got := *smp.MemoryTotalKB; got != memTotal {
			t.Errorf("%s: memory_total_kb %d, but the guest's MemTotal is %d kB", g.Name, got, memTotal)
		}
		if limit := uint64(g.MemoryMiB) << 10; memTotal > limit || memTotal < limit/2 {
			t.Errorf("%s: MemTotal %d kB does not fit its -m %d MiB", g.Name, memTotal, g.MemoryMiB)
		}
		if other, dup := totals[memTotal]; dup {
			t.Errorf("%s and %s report the same memory total %d kB", g.Name, other, memTotal)
		}
		totals[memTotal] = g.Name
		t.Logf("%s: -m %d MiB, memory_total_kb %d", g.Name, g.MemoryMiB, memTotal)
	}
}

// checkCPU starts the stress loop and averages ten seconds of samples of both guests.
func (s *system) checkCPU(t *testing.T, stressed, idle *guest) {
	stressed.run(t, demo.StressCommand(150))
	time.Sleep(2 * pollInterval) // the first window after the start is partly idle
	samples := s.collect(t, 10*time.Second, stressed, idle)
	for _, c := range []struct {
		g        *guest
		min, max float64
	}{{stressed, 40, 90}, {idle, 0, 20}} {
		var cpus []float64
		for _, smp := range samples[c.g.id] {
			if smp.Source != wire.SourceGuest || smp.CPUUsagePercent == nil {
				t.Fatalf("%s: sample %s during the CPU check", c.g.Name, show(smp))
			}
			cpus = append(cpus, math.Round(*smp.CPUUsagePercent))
		}
		m := mean(cpus)
		t.Logf("%s: cpu_usage_percent %v, mean %.1f", c.g.Name, cpus, m)
		if len(cpus) < 7 || m < c.min || m > c.max {
			t.Errorf("%s: mean cpu_usage_percent %.1f over %d samples, want %.0f–%.0f over at least 7",
				c.g.Name, m, len(cpus), c.min, c.max)
		}
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// checkRestart restarts the manager on the same database: both VMs and their
// history are still there, and polling resumes.
func (s *system) checkRestart(t *testing.T, began time.Time) {
	if code := s.manager.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("manager exited with %d after SIGTERM", code)
	}
	s.startManager()
	for _, g := range s.guests {
		var vm vmRecord
		if err := s.client.Do(context.Background(), "GET", "/v1/vms/"+g.id, nil, &vm, http.StatusOK); err != nil {
			t.Fatalf("%s after the restart: %v", g.Name, err)
		}
		if vm.Name != g.Name || vm.GuestPort != g.hostPort {
			t.Errorf("%s after the restart: %+v", g.Name, vm)
		}
		var h wire.History
		path := fmt.Sprintf("/v1/vms/%s/metrics/history?since=%d", g.id, began.Add(-time.Minute).UnixMilli())
		if err := s.client.Do(context.Background(), "GET", path, nil, &h, http.StatusOK); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range h.Points {
			n += p.Samples
		}
		t.Logf("%s: history after the restart: %d points (%s) covering %d samples", g.Name, len(h.Points), h.Resolution, n)
		if n < 10 {
			t.Errorf("%s: history after the restart covers %d samples, want the run's (at least 10)", g.Name, n)
		}
		s.waitFor(t, g, 10*time.Second, "guest samples after the restart", isSource(wire.SourceGuest))
	}
}

// waitFor waits until the guest's latest sample satisfies ok.
func (s *system) waitFor(t *testing.T, g *guest, within time.Duration, what string, ok func(wire.CombinedSample) bool) wire.CombinedSample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	smp, err := s.client.WaitFor(ctx, g.id, ok)
	if err != nil {
		t.Fatalf("%s: %s: not within %v (%v); latest %s", g.Name, what, within, err, show(smp))
	}
	return smp
}

func isSource(src string) func(wire.CombinedSample) bool {
	return func(s wire.CombinedSample) bool { return s.Source == src && !s.Stale }
}

package collector

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// firecrackerStandIn starts the Firecracker stand-in (a process named
// firecracker) in dir, its vsock port 8080 forwarded to guest.
func firecrackerStandIn(t *testing.T, dir, id, guest string) *exec.Cmd {
	t.Helper()
	bin, err := testbuild.Firecracker(filepath.Join(os.TempDir(), "fcmon-collector-fc"))
	if err != nil {
		t.Fatal(err)
	}
	return fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: bin, Dir: dir, ID: id, Guest: guest})
}

// hostHarness is a harness whose registry holds host agents and gives
// each reported VM its host VM id as registry id.
type hostHarness struct {
	*harness
	mu       sync.Mutex
	hosts    []HostTarget
	register [][]HostVM
	exits    map[string]string // host VM id → how its VMM ended, as Register got them
}

func newHostHarness(t *testing.T, interval time.Duration, tune ...func(*Options)) *hostHarness {
	hh := &hostHarness{exits: map[string]string{}}
	hh.harness = newHarness(t, interval, func(o *Options) {
		for _, f := range tune {
			f(o)
		}
		o.HostAgents = agentclient.NewHostAgents(agentclient.Options{Allow: netpolicy.MustParseList("a", "127.0.0.0/8")})
		o.Hosts = func(context.Context) ([]HostTarget, error) {
			hh.mu.Lock()
			defer hh.mu.Unlock()
			return append([]HostTarget(nil), hh.hosts...), nil
		}
		o.Register = func(_ context.Context, _ HostTarget, _ string, vms []HostVM, exits map[string]HostExit) (map[string]string, error) {
			hh.mu.Lock()
			hh.register = append(hh.register, vms)
			for id, x := range exits {
				hh.exits[id] = x.Reason
			}
			hh.mu.Unlock()
			ids := map[string]string{}
			for _, v := range vms {
				ids[v.HostVMID] = v.HostVMID
			}
			return ids, nil
		}
	})
	return hh
}

// TestHostCollection: a real host agent discovers a Firecracker stand-in
// whose guest agent it reads over vsock; the collector reads the host
// agent once per interval. Stopping the guest agent switches CPU to the
// vCPU threads and memory to the balloon within two intervals, flagged;
// restarting it switches back; a dead host agent leaves the VM stale, and
// its return recovers it; a VM that exits leaves the collector.
func TestHostCollection(t *testing.T) {
	const iv = 300 * time.Millisecond
	scope := t.TempDir()
	guest := startGuestAgent(t, "127.0.0.1:0")
	fc := firecrackerStandIn(t, filepath.Join(scope, "a"), "vm-a", guest.addr)
	hostArgs := []string{"--listen", "127.0.0.1:0", "--interval", iv.String(), "--discover-scope", scope, "--allow-paths", scope, "--guest-allow-cidrs", "127.0.0.0/8"}
	host := startAgent(t, hostAgentBin, hostServing, hostArgs...)
	hh := newHostHarness(t, iv)
	hh.mu.Lock()
	hh.hosts = []HostTarget{{ID: "host-1", URL: "http://" + host.addr}}
	hh.mu.Unlock()

	r := hh.waitSample(t, "vm-a", time.Now(), 10*time.Second, "a guest sample through the host agent, with the host's view beside it", func(s wire.CombinedSample) bool {
		return s.Source == wire.SourceGuest && s.MemorySource == wire.SourceGuest && s.Network != nil && s.Network.Source == wire.RatesFirecracker &&
			s.Checks != nil && s.Checks.HostCPUPercent != nil && s.Checks.HostMemoryUsagePercent != nil
	})
	if *r.s.MemoryTotalKB != fixtureMemTotalKB || !r.s.GuestAgent.Reachable || r.s.Stale {
		t.Errorf("guest sample %s", show(r.s))
	}
	// Beside the guest's word, the host's: its clock, the vCPU threads,
	// the balloon (the stand-in's: 64 of 256 MiB used).
	if c := r.s.Checks; c == nil || c.ClockSkewMs == nil || *c.ClockSkewMs < -2000 || *c.ClockSkewMs > 2000 ||
		c.HostCPUPercent == nil || c.HostMemoryUsagePercent == nil || *c.HostMemoryUsagePercent != 25 {
		t.Errorf("checks %+v", r.s.Checks)
	}
	if st, ok := hh.c.HostStatus("host-1"); !ok || st.Encoding != "protobuf" || st.VMs != 1 || st.Name == "" {
		t.Errorf("host status %+v", st)
	}

	guest.stop(syscall.SIGKILL)
	stopped := time.Now()
	r = hh.waitSample(t, "vm-a", stopped, 4*iv+time.Second, "vCPU and balloon figures", func(s wire.CombinedSample) bool {
		return s.Source == wire.SourceVCPU && s.MemorySource == wire.SourceBalloon
	})
	t.Logf("guest agent stopped: vcpu/balloon after %v (%.1f intervals)", r.at.Sub(stopped).Round(time.Millisecond), float64(r.at.Sub(stopped))/float64(iv))
	if r.at.Sub(stopped) > 2*iv+200*time.Millisecond {
		t.Errorf("the switch took %v, over two intervals", r.at.Sub(stopped))
	}
	if *r.s.MemoryTotalKB != 262144 || *r.s.MemoryUsedKB != 65536 || r.s.GuestAgent.Reachable || r.s.GuestAgent.LastError == "" {
		t.Errorf("fallback sample %s", show(r.s))
	}
	if c := *r.s.CPUUsagePercent; c < 5 || c > 60 {
		t.Errorf("vCPU CPU %.1f%%, want about 25 (one of two vCPUs half busy)", c)
	}

	guest2 := startAgent(t, guestAgentBin, guestServing, "--listen", guest.addr, "--procfs", mustFixture(t, "proc"), "--sysfs", mustFixture(t, "sys"), "--interval", "200ms")
	back := time.Now()
	r = hh.waitSample(t, "vm-a", back, 4*iv+time.Second, "guest figures again", func(s wire.CombinedSample) bool { return s.Source == wire.SourceGuest })
	t.Logf("guest agent back: guest after %v", r.at.Sub(back).Round(time.Millisecond))
	if r.at.Sub(back) > 2*iv+300*time.Millisecond {
		t.Errorf("the switch back took %v, over two intervals", r.at.Sub(back))
	}
	_ = guest2

	host.stop(syscall.SIGKILL)
	r = hh.waitSample(t, "vm-a", time.Now(), 5*iv+time.Second, "stale", func(s wire.CombinedSample) bool { return s.Stale && s.Source == wire.SourceNone })
	if st, _ := hh.c.HostStatus("host-1"); st.LastError != agentclient.ReasonRefused {
		t.Errorf("host status of a dead host agent %+v", st)
	}
	startAgent(t, hostAgentBin, hostServing, append([]string{"--listen", host.addr}, hostArgs[2:]...)...)
	hh.waitSample(t, "vm-a", time.Now(), 10*time.Second, "recovered", func(s wire.CombinedSample) bool { return !s.Stale && s.Source == wire.SourceGuest })

	fc.Process.Kill()
	fc.Wait()
	deadline := time.Now().Add(10 * iv)
	for {
		if _, ok := hh.c.Latest("vm-a"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exited VM is still in the collector")
		}
		time.Sleep(50 * time.Millisecond)
	}
	hh.mu.Lock()
	last := hh.register[len(hh.register)-1]
	reason := hh.exits["vm-a"]
	hh.mu.Unlock()
	if len(last) != 0 {
		t.Errorf("the last Register call listed %v, want none", last)
	}
	// The host agent heard from the kernel how the VMM ended (it is not its
	// child): the reason of the manager's vmm_exit event.
	if reason != "killed by SIGKILL" {
		t.Errorf("exit reason %q, want killed by SIGKILL", reason)
	}
}

// mustFixture returns one half of a fresh copy of the captured tree.
func mustFixture(t *testing.T, which string) string {
	proc, sys := fixture(t)
	if which == "proc" {
		return proc
	}
	return sys
}

// TestHostCollectionEvents: events made of what a real host agent reads
// from a real guest agent (over a Firecracker stand-in) whose /proc is a
// fixture the test changes: an OOM kill, a restore (uptime back, the same
// boot_id), a reboot (a new boot_id); and the source changes when the
// guest agent stops.
func TestHostCollectionEvents(t *testing.T) {
	const iv = 300 * time.Millisecond
	scope := t.TempDir()
	proc, sys := fixture(t)
	guest := startAgent(t, guestAgentBin, guestServing, "--listen", "127.0.0.1:0", "--procfs", proc, "--sysfs", sys, "--interval", "200ms")
	firecrackerStandIn(t, filepath.Join(scope, "a"), "vm-e", guest.addr)
	host := startAgent(t, hostAgentBin, hostServing, "--listen", "127.0.0.1:0", "--interval", iv.String(), "--discover-scope", scope, "--allow-paths", scope,
		"--guest-allow-cidrs", "127.0.0.0/8")
	var mu sync.Mutex
	var events []wire.Event
	hh := newHostHarness(t, iv, func(o *Options) {
		o.OnEvent = func(e wire.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	hh.mu.Lock()
	hh.hosts = []HostTarget{{ID: "host-1", URL: "http://" + host.addr}}
	hh.mu.Unlock()
	hh.waitSample(t, "vm-e", time.Now(), 10*time.Second, "guest figures", func(s wire.CombinedSample) bool { return s.Source == wire.SourceGuest })
	waitEvent := func(typ string, ok ...func(wire.Event) bool) wire.Event {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			for _, e := range events {
				if e.Type == typ && (len(ok) == 0 || ok[0](e)) {
					mu.Unlock()
					return e
				}
			}
			mu.Unlock()
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %s event within 5s; events %+v", typ, events)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(proc, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vmstat, _ := os.ReadFile(filepath.Join(proc, "vmstat"))
	write("vmstat", strings.Replace(string(vmstat), "oom_kill 0\n", "oom_kill 3\n", 1))
	if e := waitEvent(wire.EventOOMKill); e.Detail["new"] != "3" || e.VMID != "vm-e" {
		t.Errorf("oom_kill event %+v", e)
	}
	write("uptime", "5.00 8.00\n")
	waitEvent(wire.EventRestore)
	write("sys/kernel/random/boot_id", "0f0e0d0c-0b0a-4908-8706-050403020100\n")
	waitEvent(wire.EventReboot)
	guest.stop(syscall.SIGKILL)
	waitEvent(wire.EventSourceChange, func(e wire.Event) bool {
		return e.Detail["cpu_from"] == wire.SourceGuest && e.Detail["cpu_to"] == wire.SourceVCPU && e.Detail["memory_to"] == wire.SourceBalloon
	})
}

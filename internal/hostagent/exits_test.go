package hostagent

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/memcg"
)

// TestVMMKilledByHostOOM: a Firecracker (the stand-in) in a memory cgroup
// touches all its guest's memory, over the cgroup's limit; the host
// kernel's OOM killer ends it, and the host agent's exit of the VM says so,
// from the kernel's log.
func TestVMMKilledByHostOOM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kernel's log and a memory cgroup need root; make test runs as root")
	}
	g := memcg.New(t, 64<<20)
	scope := t.TempDir()
	ta := startAgent(t, func(c *Config) {
		c.Discover, c.DiscoverScope = true, scope
		c.Interval = 200 * time.Millisecond
		c.GuestAllowCIDRs = "127.0.0.0/8"
		c.SysRoot = "/sys" // the host's cgroups
	})
	vm := startFirecracker(t, fcOpts{id: "vm-oom", guest: guestAgent(t), dir: filepath.Join(scope, "a")})
	ta.waitSample(t, "vm-oom", 5*time.Second, "the VM discovered", func(s *wire.VMSample) bool { return s.Process != nil })
	if err := g.Add(vm.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// In its cgroup as the host agent reads it (a jailer places the VMM
	// before it starts; here it moves after).
	ta.waitSample(t, "vm-oom", 5*time.Second, "the VMM in its memory cgroup", func(s *wire.VMSample) bool {
		return s.Cgroup != nil && s.Cgroup.MemoryLimitBytes != nil && *s.Cgroup.MemoryLimitBytes == 64<<20
	})
	vm.cmd.Process.Signal(syscall.SIGUSR1) // its guest uses all 256 MiB
	var exit *exec.ExitError
	if err := vm.cmd.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the stand-in ended with %v, want killed by SIGKILL", err)
	}
	var reason string
	var exitDoc wire.VMExit
	waitFor(t, "the VM's exit with its reason", 5*time.Second, func() bool {
		for _, e := range ta.samples(t).Exits {
			if e.ID == "vm-oom" {
				reason, exitDoc = e.Reason, e
			}
		}
		return strings.Contains(reason, "OOM killer")
	})
	// Its cgroup, read as it ended: the kill and the limit behind it.
	if exitDoc.CgroupOOMKills == nil || *exitDoc.CgroupOOMKills < 1 || exitDoc.CgroupMemoryLimitBytes == nil || *exitDoc.CgroupMemoryLimitBytes != 64<<20 {
		t.Errorf("the exit's cgroup: oom kills %s, limit %s; want at least 1 of 64 MiB", show(exitDoc.CgroupOOMKills), show(exitDoc.CgroupMemoryLimitBytes))
	}
	if !strings.Contains(reason, "memory cgroup") {
		t.Errorf("reason %q, want the memory cgroup's limit named", reason)
	}
	t.Logf("exit reason: %s", reason)
}

// TestVMMDiedOfSignal: a Firecracker (the stand-in, whose handlers are
// Firecracker's) that catches SIGSEGV writes a last line with
// signals.sigsegv and exits with code 150; the VM's exit says both.
func TestVMMDiedOfSignal(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	vm := startFirecracker(t, fcOpts{id: "vm-segv", guest: guestAgent(t), dir: filepath.Join(scope, "a")})
	ta.waitSample(t, "vm-segv", 5*time.Second, "the VM's metrics read", func(s *wire.VMSample) bool {
		return s.Firecracker != nil && s.Firecracker.Lines > 0
	})
	vm.cmd.Process.Signal(syscall.SIGSEGV)
	var exit *exec.ExitError
	if err := vm.cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 150 {
		t.Fatalf("the stand-in ended with %v, want exit code 150 as Firecracker's", err)
	}
	want := "Firecracker caught SIGSEGV and shut the VM down (signals.sigsegv)"
	if os.Geteuid() == 0 { // the kernel's process events
		want = "exited with code 150: " + want
	}
	var reason string
	waitFor(t, "the VM's exit with its reason", 5*time.Second, func() bool {
		for _, e := range ta.samples(t).Exits {
			if e.ID == "vm-segv" {
				reason = e.Reason
			}
		}
		return reason == want
	})
}

// show is *p, or "none".
func show(p *uint64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatUint(*p, 10)
}

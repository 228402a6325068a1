package guestvm

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/poll"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/memcg"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
	"github.com/fcmon/fcmon/internal/testsupport/vmclockpage"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestEventsFromARealGuest: a QEMU guest behind a Firecracker stand-in,
// found by a host agent that a manager collects. Inside the guest: a
// memory hog the kernel's OOM killer kills gives an oom_kill event; the
// guest's clock set 60 s ahead gives clock_skew; the VM paused for 10 s
// (QEMU stop, cont) gives no negative or spiked figure and no restore; the
// guest's clock put forward to the host's after standing 90 s behind, and
// the VMClock generation counter changing, each give a restore; its VMM
// killed with SIGKILL gives vmm_exit.
func TestEventsFromARealGuest(t *testing.T) {
	vmtest.Require(t, vmtest.DefaultAssets())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	q, base, id := collectedGuest(ctx, t, "vm-ev", 192)
	run := func(cmd string) {
		t.Helper()
		if out, err := q.Guest.Run(ctx, cmd); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	event := func(typ string, within time.Duration) wire.Event {
		t.Helper()
		var found wire.Event
		poll.Until(t, within, "a "+typ+" event", func() bool {
			var evs []wire.Event
			getJSON(t, base+"/v1/vms/"+id+"/events?type="+typ, &evs)
			if len(evs) > 0 {
				found = evs[0]
				return true
			}
			return false
		})
		t.Logf("%s: %s %v", typ, found.Message, found.Detail)
		return found
	}

	// Processes asking together for more than the guest has: busybox dd
	// touches its whole buffer (each one alone passes the kernel's
	// overcommit check), and the OOM killer ends one.
	run("for i in 1 2 3; do dd if=/dev/zero of=/dev/null bs=90M count=1 2>/dev/null & done; wait; grep oom_kill /proc/vmstat")
	if e := event(wire.EventOOMKill, 15*time.Second); e.Detail["from"] != "guest" || e.Detail["new"] == "" {
		t.Errorf("oom_kill event %+v", e)
	}

	run("date -s @$(( $(date +%s) + 60 )) >/dev/null")
	if e := event(wire.EventClockSkew, 15*time.Second); e.Detail["skew_ms"] == "" {
		t.Errorf("clock_skew event %+v", e)
	}
	run("date -s @$(( $(date +%s) - 60 )) >/dev/null")

	// Paused for 10 s: no figure goes negative or spikes, and it is not
	// taken for a restore.
	var before wire.CombinedSample
	getJSON(t, base+"/v1/vms/"+id+"/metrics", &before)
	if err := q.QMP().Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	if err := q.QMP().Cont(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	for time.Since(resumed) < 8*time.Second {
		var s wire.CombinedSample
		getJSON(t, base+"/v1/vms/"+id+"/metrics", &s)
		if c := s.CPUUsagePercent; c != nil && (*c < 0 || *c > 100) {
			t.Errorf("CPU %v after the pause", *c)
		}
		if n := s.Network; n != nil && (n.RxBytesPerSec < 0 || n.TxBytesPerSec < 0 || n.RxBytesPerSec > 50e6 || n.TxBytesPerSec > 50e6) {
			t.Errorf("network %+v after the pause", n)
		}
		if d := s.Disk; d != nil && (d.ReadBytesPerSec < 0 || d.WriteBytesPerSec < 0) {
			t.Errorf("disk %+v after the pause", d)
		}
		time.Sleep(250 * time.Millisecond)
	}
	var restores []wire.Event
	getJSON(t, base+"/v1/vms/"+id+"/events?type=restore", &restores)
	if len(restores) != 0 {
		t.Errorf("a pause taken for a restore: %+v", restores)
	}

	// A restored guest's clock stood still while the snapshot waited: set
	// it 90 s behind, then put it right as NTP would after a restore.
	run(fmt.Sprintf("date -s @%d >/dev/null", time.Now().Unix()-90))
	time.Sleep(3 * time.Second)
	run(fmt.Sprintf("date -s @%d >/dev/null", time.Now().Unix()))
	if e := restoreFrom(t, base, id, "clock_step", 15*time.Second); e.Detail["clock_step_ms"] == "" {
		t.Errorf("restore by clock step %+v", e)
	}
	// The VMClock device's generation counter. This guest's kernel (6.1)
	// has no VMClock driver, so the page is a file at the device's path,
	// laid out as the device's; the guest agent reads it as it would the
	// device. The hypervisor changes the counter on a restore.
	writeVMClock := func(gen uint64) {
		var cmd strings.Builder
		cmd.WriteString("printf '")
		for _, c := range (vmclockpage.Page{Seq: 2 * uint32(gen+1), DisruptionMarker: gen, Generation: gen, HasGeneration: true}).Bytes()[:112] {
			fmt.Fprintf(&cmd, "\\%03o", c)
		}
		cmd.WriteString("' > /dev/vmclock.new && mv /dev/vmclock.new /dev/vmclock0")
		run(cmd.String())
	}
	writeVMClock(0)
	time.Sleep(3 * time.Second) // the agent has read generation 0, the manager seen it
	writeVMClock(1)
	if e := restoreFrom(t, base, id, "vmclock", 15*time.Second); e.Detail["vm_generation"] != "1" {
		t.Errorf("restore by VMClock %+v", e)
	}

	killed := time.Now()
	if err := syscall.Kill(q.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := event(wire.EventVMMExit, 15*time.Second)
	t.Logf("vmm_exit %v after the kill", time.Since(killed).Round(10*time.Millisecond))
	var vm wire.VM
	getJSON(t, base+"/v1/vms/"+id, &vm)
	if vm.GoneMs == 0 || e.VMID != id {
		t.Errorf("after the VMM's exit: %+v, event %+v", vm, e)
	}
	var all []wire.Event
	getJSON(t, base+"/v1/events?vm_id="+id+"&limit=1000", &all)
	seen := map[string]int{}
	for _, e := range all {
		seen[e.Type]++
	}
	t.Logf("events of the VM: %v", fmt.Sprint(seen))
}

// restoreFrom waits for a restore event of the VM that the given evidence
// ("clock_step", "vmclock", "uptime") produced.
func restoreFrom(t *testing.T, base, id, from string, within time.Duration) wire.Event {
	t.Helper()
	var found wire.Event
	poll.Until(t, within, "a restore event from "+from, func() bool {
		var evs []wire.Event
		getJSON(t, base+"/v1/vms/"+id+"/events?type=restore", &evs)
		for _, e := range evs {
			if e.Detail["from"] == from {
				found = e
				return true
			}
		}
		return false
	})
	t.Logf("restore: %s %v", found.Message, found.Detail)
	return found
}

// TestHostOOMKillsTheVMM: the VMM of a real guest runs in a memory cgroup
// with room for little more than it already holds; the guest then uses
// memory it has not touched before, the VMM's resident memory grows past
// the limit, and the host kernel's OOM killer ends it. The manager's
// vmm_exit event says so.
func TestHostOOMKillsTheVMM(t *testing.T) {
	vmtest.Require(t, vmtest.DefaultAssets())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	q, base, id := collectedGuest(ctx, t, "vm-hostoom", 256)
	// What the VMM allocates from now on counts against 32 MiB.
	g := memcg.New(t, 32<<20)
	if err := g.Add(q.PID()); err != nil {
		t.Fatal(err)
	}
	// The VMM in its cgroup as its host agent reads it (a jailer places it
	// before it starts; here it moves after).
	poll.Until(t, 15*time.Second, "the VMM's cgroup limit in its samples", func() bool {
		var s wire.CombinedSample
		getJSON(t, base+"/v1/vms/"+id+"/metrics", &s)
		return s.Cgroup != nil && s.Cgroup.MemoryLimitBytes != nil && *s.Cgroup.MemoryLimitBytes == 32<<20
	})
	// 160 MiB the guest has not used yet: the VMM must back it with new pages.
	go q.Guest.Run(ctx, "dd if=/dev/zero of=/dev/null bs=160M count=1")
	var found wire.Event
	poll.Until(t, 30*time.Second, "a vmm_exit event", func() bool {
		var evs []wire.Event
		getJSON(t, base+"/v1/vms/"+id+"/events?type=vmm_exit", &evs)
		if len(evs) > 0 {
			found = evs[0]
			return true
		}
		return false
	})
	t.Logf("vmm_exit: %s %v", found.Message, found.Detail)
	if r := found.Detail["reason"]; !strings.Contains(r, "OOM killer") || !strings.Contains(r, "memory cgroup") {
		t.Errorf("vmm_exit reason %q, want the host kernel's OOM killer and the memory cgroup named", r)
	}
	if found.Detail["cgroup_memory_limit_bytes"] != strconv.Itoa(32<<20) || found.Detail["cgroup_oom_kills"] == "" || found.Detail["cgroup_oom_kills"] == "0" {
		t.Errorf("vmm_exit detail %v, want its cgroup's OOM kills and its limit of 32 MiB", found.Detail)
	}
}

// collectedGuest boots a one-vCPU QEMU guest of memoryMiB behind a
// Firecracker stand-in, found by a host agent that a manager collects
// (both at 1 s), and waits until the manager has the guest's own figures.
// It returns the guest, the manager's base URL and the VM's id there.
func collectedGuest(ctx context.Context, t *testing.T, vmID string, memoryMiB int) (*fcstandin.QEMUVM, string, string) {
	t.Helper()
	dir := shortDir(t, "fcev-")
	q := standInGuest(ctx, t, vmID, filepath.Join(dir, "q"), 1, memoryMiB)
	progs, err := testbuild.Programs(t.TempDir(), "host-agent", "manager")
	if err != nil {
		t.Fatal(err)
	}
	host := testprog.Start(t, progs[0], t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0", "--interval", "1s",
		"--discover-scope", dir, "--allow-paths", dir)
	mgr := testprog.Start(t, progs[1], t.TempDir(), nil, testprog.ManagerServing, "--listen", "127.0.0.1:0",
		"--poll-interval", "1s", "--host-agents", "http://"+host.Addr)
	base := "http://" + mgr.Addr
	var id string
	poll.Until(t, 30*time.Second, "the VM with its guest's figures", func() bool {
		var vms []wire.VM
		getJSON(t, base+"/v1/vms", &vms)
		if len(vms) == 1 && vms[0].Source == wire.SourceGuest {
			id = vms[0].ID
			return true
		}
		return false
	})
	return q, base, id
}

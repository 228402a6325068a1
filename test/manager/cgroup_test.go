package manager

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/cgtest"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/poll"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestCgroupEventsForReal: Firecracker stand-ins in real cgroup v1 groups,
// as the jailer's --cgroup-version 1 leaves them. One runs two busy vCPUs
// under a quota of a fifth of a core: its host agent counts the throttled
// periods and the manager makes one cpu_throttled event. The other's
// cgroup has a memory limit that a writer in the same cgroup fills with
// page cache: the manager makes memory_limit, the warning before a kill.
func TestCgroupEventsForReal(t *testing.T) {
	fcBin, err := testbuild.Firecracker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	scope := t.TempDir()
	cpu := cgtest.New(t, cgtest.Quota(0.2, 1<<30))
	mem := cgtest.New(t, cgtest.Quota(4, 64<<20))
	busy := fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fcBin, Dir: filepath.Join(scope, "fc-cpu"), ID: "fc-cpu", Guest: "127.0.0.1:9", Busy: "1,1"})
	idle := fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fcBin, Dir: filepath.Join(scope, "fc-mem"), ID: "fc-mem", Guest: "127.0.0.1:9", Busy: "0,0"})
	cpu.Add(t, busy.Process.Pid)
	mem.Add(t, idle.Process.Pid)
	host := testprog.Start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0", "--interval", "250ms",
		"--discover-scope", scope, "--allow-paths", scope)
	m := startManager(t, "", "--host-agents", "http://"+host.Addr, "--throttle-for", "2s")

	events := func(typ string) []wire.Event {
		var evs []wire.Event
		m.must(t, 200, "GET", "/v1/events?type="+typ, nil, &evs)
		return evs
	}
	var throttled []wire.Event
	poll.Until(t, 30*time.Second, "a cpu_throttled event", func() bool {
		throttled = events(wire.EventCPUThrottled)
		return len(throttled) > 0
	})
	e := throttled[0]
	t.Logf("cpu_throttled: %s %v", e.Message, e.Detail)
	if e.Detail["quota_cores"] != "0.2" || !strings.HasPrefix(e.Message, "the VMM's cgroup was throttled") {
		t.Errorf("cpu_throttled: %+v", e)
	}
	var vms []wire.VM
	m.must(t, 200, "GET", "/v1/vms", nil, &vms)
	var cpuVM wire.VM
	for _, v := range vms {
		if v.Name == "fc-cpu" {
			cpuVM = v
		}
	}
	var s wire.CombinedSample
	m.must(t, 200, "GET", "/v1/vms/"+cpuVM.ID+"/metrics", nil, &s)
	// (A window of a quarter second holds two or three quota periods: the
	// share is coarse, and a loaded machine may not run the VMM in some.)
	if s.Cgroup == nil || s.Cgroup.CPUThrottledSeconds <= 0 || s.Cgroup.CPUQuotaCores == nil || *s.Cgroup.CPUQuotaCores != 0.2 {
		t.Errorf("fc-cpu's sample: cgroup %+v", s.Cgroup)
	}
	time.Sleep(3 * time.Second) // still throttled: the same episode, no second event
	if n := len(events(wire.EventCPUThrottled)); n != 1 {
		t.Errorf("%d cpu_throttled events for one episode, want 1", n)
	}

	// A writer in fc-mem's cgroup fills its limit with page cache.
	out := filepath.Join(t.TempDir(), "fill")
	w := exec.Command("sh", "-c", "echo $$ > "+filepath.Join(cgtest.Root, "memory", mem.Name, "cgroup.procs")+
		" && exec dd if=/dev/zero of="+out+" bs=1M count=256 status=none")
	if b, err := w.CombinedOutput(); err != nil {
		t.Fatalf("the writer: %v %s", err, b)
	}
	os.Remove(out)
	var limit []wire.Event
	poll.Until(t, 30*time.Second, "a memory_limit event", func() bool {
		limit = events(wire.EventMemoryLimit)
		return len(limit) > 0
	})
	t.Logf("memory_limit: %s %v", limit[0].Message, limit[0].Detail)
	if limit[0].Detail["limit_bytes"] != strconv.Itoa(64<<20) {
		t.Errorf("memory_limit: %+v", limit[0])
	}
}

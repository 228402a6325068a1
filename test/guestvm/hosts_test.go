package guestvm

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/poll"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestManagerWithHostAgents: a manager collects two host agents, each
// discovering its own directory's Firecracker VMs — on host A a real QEMU
// guest behind a stand-in and a plain stand-in, on host B a plain stand-in
// — with one GET /v1/samples per host per second. Nothing is registered by
// hand: the VMs appear with their host. The QEMU guest's figures come over
// vsock; with its guest agent stopped, CPU comes from the vCPU threads and
// memory from the balloon within two intervals, flagged; with it back, from
// the guest again. Killing host agent B makes its VM stale and leaves host
// A's alone; restarting it recovers the VM.
func TestManagerWithHostAgents(t *testing.T) {
	vmtest.Require(t, vmtest.DefaultAssets())
	dir := shortDir(t, "fchosts-")
	scopeA, scopeB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	q := standInGuest(ctx, t, "vm-qemu", filepath.Join(scopeA, "q"), 2, 256)

	bins := t.TempDir()
	fc, err := testbuild.Firecracker(bins)
	if err != nil {
		t.Fatal(err)
	}
	progs, err := testbuild.Programs(bins, "host-agent", "manager", "guest-agent")
	if err != nil {
		t.Fatal(err)
	}
	hostBin, managerBin, guestBin := progs[0], progs[1], progs[2]
	// The plain stand-ins' guest agents run on this machine.
	g1 := testprog.Start(t, guestBin, t.TempDir(), nil, testprog.GuestServing, "--listen", "127.0.0.1:0")
	g2 := testprog.Start(t, guestBin, t.TempDir(), nil, testprog.GuestServing, "--listen", "127.0.0.1:0")
	a2Proc := fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fc, Dir: filepath.Join(scopeA, "p"), ID: "vm-a2", Guest: g1.Addr})
	fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fc, Dir: filepath.Join(scopeB, "p"), ID: "vm-b1", Guest: g2.Addr})

	hostArgs := func(listen, scope string) []string {
		return []string{"--listen", listen, "--interval", "1s", "--discover-scope", scope, "--allow-paths", scope, "--guest-allow-cidrs", "127.0.0.0/8"}
	}
	hostA := testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, hostArgs("127.0.0.1:0", scopeA)...)
	hostB := testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, hostArgs("127.0.0.1:0", scopeB)...)
	mgr := testprog.Start(t, managerBin, t.TempDir(), nil, testprog.ManagerServing, "--listen", "127.0.0.1:0",
		"--poll-interval", "1s", "--host-agents", "http://"+hostA.Addr+",http://"+hostB.Addr)
	base := "http://" + mgr.Addr

	var vms []wire.VM
	poll.Until(t, 30*time.Second, "three VMs registered by their host agents", func() bool {
		getJSON(t, base+"/v1/vms", &vms)
		return len(vms) == 3 && vms[0].Source == wire.SourceGuest && vms[1].Source == wire.SourceGuest && vms[2].Source == wire.SourceGuest
	})
	ids := map[string]wire.VM{}
	for _, vm := range vms {
		ids[vm.Name] = vm
	}
	if ids["vm-qemu"].HostID == "" || ids["vm-qemu"].HostID != ids["vm-a2"].HostID || ids["vm-b1"].HostID == ids["vm-a2"].HostID {
		t.Fatalf("VMs and their hosts: %+v", vms)
	}
	var hosts []wire.Host
	getJSON(t, base+"/v1/hosts", &hosts)
	if len(hosts) != 2 || !hosts[0].Reachable || !hosts[1].Reachable || hosts[0].Encoding != "protobuf" || hosts[0].VMs+hosts[1].VMs != 3 {
		t.Errorf("hosts %+v", hosts)
	}

	qemu := ids["vm-qemu"].ID
	latest := func(id string) wire.CombinedSample {
		var s wire.CombinedSample
		getJSON(t, base+"/v1/vms/"+id+"/metrics", &s)
		return s
	}
	s := latest(qemu)
	if s.MemoryTotalKB == nil || *s.MemoryTotalKB < 150_000 || *s.MemoryTotalKB > 262_144 || s.MemorySource != wire.SourceGuest {
		t.Errorf("the QEMU guest's own figures: %+v", s)
	}

	if out, err := q.Guest.Run(ctx, "killall guest-agent"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	stopped := time.Now()
	poll.Until(t, 15*time.Second, "vCPU and balloon figures", func() bool {
		s = latest(qemu)
		return s.Source == wire.SourceVCPU && s.MemorySource == wire.SourceBalloon
	})
	took := time.Since(stopped)
	t.Logf("guest agent stopped: vcpu and balloon after %v", took.Round(10*time.Millisecond))
	if took > 2*time.Second+time.Second { // two intervals, and the polling of this test
		t.Errorf("the switch took %v, over two intervals", took)
	}
	if s.GuestAgent.Reachable || s.GuestAgent.LastError == "" || s.MemoryTotalKB == nil || s.CPUUsagePercent == nil {
		t.Errorf("fallback sample %+v", s)
	}
	if _, err := q.Guest.Run(ctx, vmtest.GuestAgentPath+" --listen 0.0.0.0:8080 --interval 1s >>"+vmtest.GuestAgentLog+" 2>&1 &"); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	poll.Until(t, 20*time.Second, "the guest's figures again", func() bool { return latest(qemu).Source == wire.SourceGuest })
	t.Logf("guest agent back: guest after %v", time.Since(back).Round(10*time.Millisecond))

	b1, a2 := ids["vm-b1"].ID, ids["vm-a2"].ID
	hostB.Signal(syscall.SIGKILL)
	poll.Until(t, 10*time.Second, "host B's VM stale", func() bool { return latest(b1).Stale })
	if s := latest(a2); s.Stale || s.Source != wire.SourceGuest {
		t.Errorf("host A's VM while host B is down: %+v", s)
	}
	getJSON(t, base+"/v1/hosts", &hosts)
	for _, h := range hosts {
		if strings.HasSuffix(h.URL, hostB.Addr) && (h.Reachable || h.LastError != "refused") {
			t.Errorf("the dead host agent: %+v", h)
		}
	}
	testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, hostArgs(hostB.Addr, scopeB)...)
	poll.Until(t, 15*time.Second, "host B's VM recovered", func() bool {
		s := latest(b1)
		return !s.Stale && s.Source == wire.SourceGuest
	})

	// A VM whose process exits is marked gone, with its history kept; it
	// can be deleted then, not before.
	a2Proc.Process.Kill()
	a2Proc.Wait()
	exited := time.Now()
	var vm wire.VM
	poll.Until(t, 10*time.Second, "the exited VM gone", func() bool {
		getJSON(t, base+"/v1/vms/"+a2, &vm)
		return vm.GoneMs != 0
	})
	t.Logf("an exited VM is gone after %v", time.Since(exited).Round(10*time.Millisecond))
	if code := deleteCode(t, base+"/v1/vms/"+qemu); code != http.StatusConflict {
		t.Errorf("DELETE of a VM its host agent reports: %d, want 409", code)
	}
	if code := deleteCode(t, base+"/v1/vms/"+a2); code != http.StatusNoContent {
		t.Errorf("DELETE of a gone VM: %d, want 204", code)
	}
}

func deleteCode(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

package guestvm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestFirecrackerStandIn: a real QEMU guest made to look like a Firecracker
// microVM (comm firecracker, fc_vcpu threads, the API and vsock sockets)
// is discovered by a real host agent, which reads the guest agent through
// the vsock muxer, the vCPU threads' CPU and the balloon's statistics (from
// the guest's virtio-balloon driver, through QMP); with the guest agent
// stopped, vCPU and balloon figures stay and the guest part says why; when
// it is back, so are the guest's figures.
func TestFirecrackerStandIn(t *testing.T) {
	vmtest.Require(t, vmtest.DefaultAssets())
	dir := shortDir(t, "fcsi-")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	q := standInGuest(ctx, t, "vm-qemu", filepath.Join(dir, "vm"), 2, 256)
	run := func(cmd string) {
		t.Helper()
		if out, err := q.Guest.Run(ctx, cmd); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", q.PID()))
	if string(comm) != "firecracker\n" {
		t.Fatalf("QEMU's comm is %q, want firecracker (the shim did not load)", comm)
	}

	bin, err := testbuild.Program(t.TempDir(), "host-agent")
	if err != nil {
		t.Fatal(err)
	}
	host := testprog.Start(t, bin, t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0",
		"--interval", "1s", "--discover-scope", dir, "--allow-paths", dir)
	get := func() *wire.VMSample {
		resp, err := http.Get("http://" + host.Addr + "/v1/samples")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s wire.HostSamples
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		for i := range s.VMs {
			if s.VMs[i].ID == "vm-qemu" {
				return &s.VMs[i]
			}
		}
		return nil
	}
	wait := func(what string, within time.Duration, ok func(*wire.VMSample) bool) *wire.VMSample {
		t.Helper()
		start := time.Now()
		for {
			s := get()
			if s != nil && ok(s) {
				t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
				return s
			}
			if time.Since(start) > within {
				b, _ := json.Marshal(s)
				t.Fatalf("%s: not within %v; sample %s", what, within, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	s := wait("discovered with its guest over vsock, vCPUs and balloon", 20*time.Second, func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Guest.Transport == wire.TransportVsock && s.VCPU != nil && s.Balloon != nil && s.Balloon.TotalKB != nil
	})
	if s.VCPU.Count != 2 {
		t.Errorf("vcpu count %d, want 2", s.VCPU.Count)
	}
	if d := int64(*s.Balloon.TotalKB) - int64(s.Guest.MemoryTotalKB); d < -4096 || d > 4096 {
		t.Errorf("balloon total %d kB, guest MemTotal %d kB", *s.Balloon.TotalKB, s.Guest.MemoryTotalKB)
	}
	// One of two vCPUs busy: the guest says about 50 %, and so do the
	// vCPU threads as a share of the VM's two vCPUs.
	run("yes >/dev/null &")
	s = wait("one busy vCPU seen inside and outside", 20*time.Second, func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Guest.CPUUsagePercent > 40 && s.VCPU.UsagePercent > 35 && s.Guest.AgeMs < 1500
	})
	t.Logf("guest says %.1f %%, vCPU threads %.1f %% of 2 vCPUs", s.Guest.CPUUsagePercent, s.VCPU.UsagePercent)
	if s.VCPU.UsagePercent > 70 {
		t.Errorf("vCPU threads %.1f %% with one of two vCPUs busy", s.VCPU.UsagePercent)
	}
	run("killall yes")

	run("killall guest-agent")
	stopped := time.Now()
	wait("the guest agent's absence, vCPU and balloon still there", 10*time.Second, func(s *wire.VMSample) bool {
		return s.Errors["guest"] != "" && s.VCPU != nil && s.Balloon != nil && s.Balloon.AgeMs < 2500
	})
	if d := time.Since(stopped); d > 3*time.Second {
		t.Errorf("the guest's absence took %v to show (interval 1 s)", d)
	}
	run(vmtest.GuestAgentPath + " --listen 0.0.0.0:8080 --interval 1s >>" + vmtest.GuestAgentLog + " 2>&1 &")
	wait("the guest again", 20*time.Second, func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Guest.AgeMs < 1500 && s.Errors["guest"] == ""
	})

	// vCPU threads as Firecracker names them, in QEMU's process.
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/comm", q.PID()))
	names := 0
	for _, th := range threads {
		if b, _ := os.ReadFile(th); regexp.MustCompile(`^fc_vcpu [0-9]+\n$`).Match(b) {
			names++
		}
	}
	if names != 2 {
		t.Errorf("%d threads named fc_vcpu N, want 2", names)
	}
}

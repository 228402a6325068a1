package attack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/jail"
)

// allowNobody is the flag that lets the host agent discover nobody's
// processes: the path checks must hold even for a user the operator lets in.
const allowNobody = "--discover-uids=0,65534"

// TestOtherUsersNotDiscovered: by default a Firecracker process of a user
// outside root and the jailer's block is never asked anything.
func TestOtherUsersNotDiscovered(t *testing.T) {
	h := newHost(t)
	f := h.startFake(t, fakeOpts{id: "intruder"})
	time.Sleep(1500 * time.Millisecond) // six intervals
	if s := sampleOf(h.samples(t), "intruder"); s != nil {
		t.Fatalf("a process of nobody was discovered: %+v", s)
	}
	if a := f.asked(); a != "" {
		t.Fatalf("the host agent asked nobody's process: %q", a)
	}
	if !strings.Contains(h.agent.Log(), "outside --discover-uids") {
		t.Error("the log does not say why the process is not watched")
	}
}

// TestDiscoveredPathsChecked (finding 1): the paths a discovered process
// names — on its command line, in its --config-file, in its API's answers
// — pass the same checks as attached ones: a root-only file is not read,
// a FIFO is not made in a root-only directory, a root-only socket is not
// connected to, and the guests' token goes nowhere but a socket that
// passed them. A metrics path in GET /vm/config, which Firecracker never
// answers, is not taken at all.
func TestDiscoveredPathsChecked(t *testing.T) {
	h := newHost(t, allowNobody)
	newFIFO := filepath.Join(h.rootOnly, "made.fifo")
	metricsAt := func(p string) map[string]any {
		return map[string]any{"metrics": map[string]any{"metrics_path": p}}
	}
	h.startFake(t, fakeOpts{id: "reads-secret", fcConfig: metricsAt(h.secret), conf: map[string]any{"vm_config": map[string]any{
		"vsock": map[string]any{"guest_cid": 3, "uds_path": h.rootSock},
	}}})
	h.startFake(t, fakeOpts{id: "makes-fifo", fcConfig: metricsAt(newFIFO)})
	h.startFake(t, fakeOpts{id: "cmdline", args: []string{"--metrics-path", "/etc/shadow"}})
	// A path beneath the allowed directory, but another user's file.
	mine := filepath.Join(h.base, "root-owned.fifo")
	must(t, syscall.Mkfifo(mine, 0o600))
	h.startFake(t, fakeOpts{id: "root-fifo", fcConfig: metricsAt(mine)})
	h.startFake(t, fakeOpts{id: "api-says", conf: map[string]any{"vm_config": metricsAt(h.secret)}})
	for _, id := range []string{"reads-secret", "makes-fifo", "cmdline", "root-fifo", "api-says"} {
		s := h.waitVM(t, id, 5*time.Second, func(s *wire.VMSample) bool { return s.Errors["metrics_fifo"] != "" })
		if s.Firecracker != nil {
			t.Errorf("%s: the metrics path it named was read: %+v", id, s.Firecracker)
		}
		want := "refused"
		if id == "api-says" {
			want = "names no metrics output"
		}
		if !strings.Contains(s.Errors["metrics_fifo"], want) {
			t.Errorf("%s: errors %v, want the metrics path %q", id, s.Errors, want)
		}
	}
	time.Sleep(time.Second)
	if n, heard := h.rootSocket(); n != 0 {
		t.Errorf("the root-only socket was connected to %d times; it heard %q", n, heard)
	}
	if _, err := os.Lstat(newFIFO); err == nil {
		t.Error("a FIFO was made in a root-only directory")
	}
	s := sampleOf(h.samples(t), "reads-secret")
	if !strings.Contains(s.Errors["vsock_uds"], "refused") || s.Guest != nil {
		t.Errorf("the root-only socket as vsock: errors %v, guest %+v", s.Errors, s.Guest)
	}
	if strings.Contains(h.agent.Log(), "bad_lines") {
		t.Error("the log tells of lines read")
	}
}

// TestJailEscapes (finding 2): a jailed process's paths resolve inside its
// jail — "..", absolute symlinks and the jailer's pivot_root included —
// and a jail outside --allow-paths is not discovered.
func TestJailEscapes(t *testing.T) {
	for _, m := range []struct {
		name string
		mode jail.Mode
	}{{"chroot", jail.Chroot}, {"pivot_root", jail.Pivot}} {
		t.Run(m.name, func(t *testing.T) {
			h := newHost(t, allowNobody)
			h.startFake(t, fakeOpts{id: "dotdot", mode: m.mode,
				fcConfig: map[string]any{"metrics": map[string]any{"metrics_path": "/../../../../../../../.." + h.secret}},
				conf: map[string]any{"vm_config": map[string]any{
					"vsock": map[string]any{"guest_cid": 3, "uds_path": "/../../../../../../.." + h.rootSock},
				}}})
			link := h.startFake(t, fakeOpts{id: "symlink", mode: m.mode,
				fcConfig: map[string]any{"metrics": map[string]any{"metrics_path": "/run/m.fifo"}},
				conf: map[string]any{"vm_config": map[string]any{
					"vsock": map[string]any{"guest_cid": 3, "uds_path": "/run/v.sock"},
				}}})
			// The jail's own user plants the links, as a jailed process could.
			for name, target := range map[string]string{"m.fifo": h.secret, "v.sock": h.rootSock} {
				p := filepath.Join(link.dir, "run", name)
				must(t, os.Symlink(target, p))
				must(t, os.Lchown(p, jail.Nobody, jail.Nobody))
			}
			for _, id := range []string{"dotdot", "symlink"} {
				s := h.waitVM(t, id, 5*time.Second, nil)
				if s.Firecracker != nil || s.Guest != nil {
					t.Errorf("%s: the host's files were reached from the jail: %+v %+v", id, s.Firecracker, s.Guest)
				}
			}
			time.Sleep(time.Second)
			if n, heard := h.rootSocket(); n != 0 {
				t.Errorf("the root-only socket was connected to %d times from a jail; it heard %q", n, heard)
			}
			// A jail outside --allow-paths: nothing of it is read.
			outside := t.TempDir()
			os.Chmod(outside, 0o755)
			out := startFakeIn(t, h, outside, m.mode)
			time.Sleep(1500 * time.Millisecond)
			if sampleOf(h.samples(t), "outside") != nil || out.asked() != "" {
				t.Errorf("a jail outside --allow-paths was discovered (asked %q)", out.asked())
			}
		})
	}
}

// startFakeIn starts a jailed fake below dir rather than the host's base.
func startFakeIn(t *testing.T, h *host, dir string, mode jail.Mode) *fake {
	t.Helper()
	rel, err := filepath.Rel(h.base, dir)
	if err != nil {
		t.Fatal(err)
	}
	return h.startFake(t, fakeOpts{id: "outside", mode: mode, where: rel})
}

// TestEndlessHeaders (finding 3): an API socket, or a guest behind the
// vsock socket, answering with a header that never ends costs the host
// agent a bounded amount of memory, and it goes on answering.
func TestEndlessHeaders(t *testing.T) {
	h := newHost(t, allowNobody)
	before := rssKB(t, h.agent.Cmd.Process.Pid)
	h.startFake(t, fakeOpts{id: "endless-api", conf: map[string]any{"api": "endless_headers"}})
	h.startFakeWithVsock(t, "endless-guest")
	s := h.waitVM(t, "endless-guest", 5*time.Second, func(s *wire.VMSample) bool { return s.Errors["guest"] != "" })
	if !strings.Contains(s.Errors["guest"], "too large") {
		t.Errorf("the endless guest's error: %q", s.Errors["guest"])
	}
	time.Sleep(10 * time.Second)
	after := rssKB(t, h.agent.Cmd.Process.Pid)
	t.Logf("host agent peak RSS %d kB before, %d kB after 10 s of endless headers", before, after)
	if after > before+32<<10 {
		t.Errorf("peak RSS grew from %d kB to %d kB", before, after)
	}
	if ok := getText(t, h.url+"/health"); ok != "OK" {
		t.Errorf("/health: %q", ok)
	}
}

// startFakeWithVsock starts a fake whose vsock socket (in its own
// directory) is a guest answering with a header that never ends.
func (h *host) startFakeWithVsock(t *testing.T, id string) *fake {
	t.Helper()
	dir := filepath.Join(h.base, "vm-"+id, "own")
	v := filepath.Join(dir, "v.sock")
	return h.startFake(t, fakeOpts{id: id, conf: map[string]any{
		"vsock": v, "vsock_mode": "endless_headers",
		"vm_config": map[string]any{"vsock": map[string]any{"guest_cid": 3, "uds_path": v}},
	}})
}

// standIn starts the Firecracker stand-in as root in a directory of its own
// below h.base, with a metrics FIFO, and returns its directory and process.
func (h *host) standIn(t *testing.T, id string, metrics string) (string, *os.Process) {
	t.Helper()
	dir := filepath.Join(h.base, "real-"+id)
	must(t, os.MkdirAll(dir, 0o755))
	if metrics == "" {
		metrics = filepath.Join(dir, "metrics.fifo")
		must(t, syscall.Mkfifo(metrics, 0o600))
	}
	cfg := `{"machine-config":{"vcpu_count":1,"mem_size_mib":128},"metrics":{"metrics_path":"` + metrics + `"}}`
	must(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644))
	cmd := exec.Command(standInBin, "--id", id, "--api-sock", filepath.Join(dir, "api.sock"), "--config-file", filepath.Join(dir, "config.json"))
	cmd.Env = []string{"FCSTANDIN_NET_RATE=1000"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 10*time.Second, "the stand-in's API socket", func() bool {
		_, err := os.Stat(filepath.Join(dir, "api.sock"))
		return err == nil
	})
	return dir, cmd.Process
}

// TestIDHijack (finding 4): a process reporting the id of a VM the
// operator attached, or of one another process holds, is watched under
// id@pid, the clash is reported, and the VM keeps its own figures.
func TestIDHijack(t *testing.T) {
	h := newHost(t, allowNobody)
	fifo := filepath.Join(h.base, "victim.fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	post(t, h.url+"/v1/vms", `{"id":"victim","metrics_fifo":"`+fifo+`"}`, 201)
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	must(t, err)
	defer w.Close()
	w.WriteString(`{"utc_timestamp_ms":1000,"net_eth0":{"rx_bytes_count":100}}` + "\n")
	f := h.startFake(t, fakeOpts{id: "victim"})
	renamed := "victim@" + strconv.Itoa(f.pid)
	h.waitVM(t, renamed, 5*time.Second, func(s *wire.VMSample) bool { return s.Discovered })
	s := h.samples(t)
	v := sampleOf(s, "victim")
	if v == nil || v.Discovered || v.Firecracker == nil || v.Firecracker.Lines != 1 {
		t.Fatalf("the attached VM after the clash: %+v", v)
	}
	if len(s.Clashes) != 1 || s.Clashes[0].ID != "victim" || s.Clashes[0].PID != f.pid || s.Clashes[0].RenamedTo != renamed {
		t.Errorf("clashes %+v", s.Clashes)
	}
	// Squatting: the first process to report an id keeps it; the real VM
	// that comes later is the newcomer, renamed, and the clash says so.
	squat := h.startFake(t, fakeOpts{id: "real-1"})
	h.waitVM(t, "real-1", 5*time.Second, nil)
	_, real := h.standIn(t, "real-1", "")
	h.waitVM(t, "real-1@"+strconv.Itoa(real.Pid), 5*time.Second, nil)
	found := false
	for _, c := range h.samples(t).Clashes {
		found = found || (c.ID == "real-1" && c.PID == real.Pid && c.HolderPID == squat.pid)
	}
	if !found {
		t.Errorf("the squatted id's clash is not reported: %+v", h.samples(t).Clashes)
	}
	// With the default --discover-uids the squatter is never a VM, so the
	// real VM has its id.
	h2 := newHost(t)
	h2.standInAt(t, "real-2")
	h2.startFake(t, fakeOpts{id: "real-2", where: "squat-2"})
	v2 := h2.waitVM(t, "real-2", 5*time.Second, nil)
	if !v2.Discovered || len(h2.samples(t).Clashes) != 0 {
		t.Errorf("real-2: %+v, clashes %+v", v2, h2.samples(t).Clashes)
	}
}

func (h *host) standInAt(t *testing.T, id string) *os.Process {
	_, p := h.standIn(t, id, "")
	return p
}

// TestFIFONotStolen (finding 7): a process naming another VM's metrics
// FIFO does not read it; the VM keeps every line.
func TestFIFONotStolen(t *testing.T) {
	h := newHost(t)
	dir, _ := h.standIn(t, "owner", "")
	fifo := filepath.Join(dir, "metrics.fifo")
	h.waitVM(t, "owner", 5*time.Second, func(s *wire.VMSample) bool { return s.Firecracker != nil })
	h.standIn(t, "thief", fifo)
	thief := h.waitVM(t, "thief", 5*time.Second, nil)
	if thief.Firecracker != nil || !strings.Contains(thief.Errors["metrics_fifo"], "already read for VM \"owner\"") {
		t.Errorf("the thief: %+v, errors %v", thief.Firecracker, thief.Errors)
	}
	// The owner's stand-in writes a line each FlushMetrics; the thief's
	// FlushMetrics go to the same FIFO. Every line is the owner's.
	time.Sleep(2 * time.Second)
	owner := sampleOf(h.samples(t), "owner")
	if owner.Firecracker == nil || owner.Firecracker.Lines < 4 || owner.Firecracker.BadLines != 0 {
		t.Errorf("the owner's lines: %+v", owner.Firecracker)
	}
}

// TestSlowProcessesDoNotDelay (finding 7): thirty processes whose API
// answers after five seconds do not delay the discovery of a real VM.
func TestSlowProcessesDoNotDelay(t *testing.T) {
	h := newHost(t, allowNobody, "--interval", "500ms")
	for i := 0; i < 30; i++ {
		h.startFake(t, fakeOpts{id: "slow-" + strconv.Itoa(i), conf: map[string]any{"api": "slow", "delay_ms": 5000}})
	}
	time.Sleep(time.Second) // the slow ones are being asked
	dir, _ := h.standIn(t, "fast", "")
	ready := time.Now() // its API socket exists
	_ = dir
	h.waitVM(t, "fast", 5*time.Second, nil)
	took := time.Since(ready)
	t.Logf("discovered %v after its API socket appeared, with 30 slow processes", took.Round(time.Millisecond))
	if took > 2*500*time.Millisecond+250*time.Millisecond {
		t.Errorf("discovery took %v, more than two intervals", took)
	}
}

// TestScopeNeedsTheRealSocket (finding 7): a command line naming a socket
// in --discover-scope that does not exist does not bring in a process
// listening outside it.
func TestScopeNeedsTheRealSocket(t *testing.T) {
	h := newHostScoped(t, "in-scope", allowNobody)
	absent := filepath.Join(h.base, "in-scope", "absent.sock")
	f := h.startFake(t, fakeOpts{id: "elsewhere", where: "outside-scope", args: []string{"--api-sock", absent}})
	time.Sleep(1500 * time.Millisecond)
	if sampleOf(h.samples(t), "elsewhere") != nil || f.asked() != "" {
		t.Errorf("a process listening outside --discover-scope was discovered through a socket path that does not exist (asked %q)", f.asked())
	}
	// In scope, the same process is found.
	h.startFake(t, fakeOpts{id: "inside", where: "in-scope/vm"})
	h.waitVM(t, "inside", 5*time.Second, nil)
}

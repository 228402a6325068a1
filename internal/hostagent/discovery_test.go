package hostagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/testsupport/promparse"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// The binaries of the discovery tests, built once.
var (
	binsOnce             sync.Once
	binsErr              error
	standInBin, guestBin string
)

func bins(t *testing.T) (standIn, guest string) {
	t.Helper()
	binsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hostagent-bins-")
		if err != nil {
			binsErr = err
			return
		}
		if standInBin, binsErr = testbuild.Firecracker(dir); binsErr != nil {
			return
		}
		guestBin, binsErr = testbuild.Program(dir, "guest-agent")
	})
	if binsErr != nil {
		t.Fatal(binsErr)
	}
	return standInBin, guestBin
}

// guestAgent runs the real guest agent on loopback over the captured
// Linux 6.18 tree and returns its address.
func guestAgent(t *testing.T) string {
	t.Helper()
	_, bin := bins(t)
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../guestagent/procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--listen", addr, "--procfs", filepath.Join(root, "proc"),
		"--sysfs", filepath.Join(root, "sys"), "--interval", "200ms")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("the guest agent did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fcVM is a stand-in Firecracker process.
type fcVM struct {
	cmd  *exec.Cmd
	dir  string // its directory (the jail root when jailed)
	api  string // API socket as the host reaches it
	fifo string
}

type fcOpts struct {
	id        string
	vcpus     int
	guest     string // TCP address of the guest agent behind vsock port 8080
	balloon   bool
	busy      string
	jailed    bool
	dir       string // where to put it; default a new temp dir
	noAPISock bool   // start without --api-sock (the default path)
}

// startFirecracker starts the stand-in with a config file as a launcher
// would: a metrics FIFO made first, vsock, optionally a balloon and a jail.
func startFirecracker(t *testing.T, o fcOpts) *fcVM {
	t.Helper()
	bin, _ := bins(t)
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	v := &fcVM{dir: dir}
	// Paths as the process sees them.
	inside := func(p string) string { return filepath.Join(dir, p) }
	see := func(p string) string { return filepath.Join(dir, p) }
	if o.jailed {
		if os.Geteuid() != 0 {
			t.Skip("a jailed Firecracker stand-in needs root (chroot)")
		}
		inside = func(p string) string { return "/" + p }
		os.MkdirAll(filepath.Join(dir, "run"), 0o755)
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "firecracker"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(see("metrics.fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.fifo = see("metrics.fifo")
	vcpus := max(o.vcpus, 1)
	cfg := map[string]any{
		"machine-config":     map[string]any{"vcpu_count": vcpus, "mem_size_mib": 256},
		"vsock":              map[string]any{"guest_cid": 3, "uds_path": inside("v.sock")},
		"metrics":            map[string]any{"metrics_path": inside("metrics.fifo")},
		"network-interfaces": []map[string]any{{"iface_id": "eth0", "host_dev_name": "tap-" + o.id}},
		"drives":             []map[string]any{{"drive_id": "rootfs", "path_on_host": "/rootfs.ext4", "is_root_device": true}},
	}
	if o.balloon {
		cfg["balloon"] = map[string]any{"amount_mib": 0, "deflate_on_oom": true, "stats_polling_interval_s": 1}
		stats := `{"total_memory":268435456,"available_memory":201326592,"free_memory":134217728,"disk_caches":33554432}`
		os.WriteFile(see("balloon.json"), []byte(stats), 0o644)
	}
	b, _ := json.Marshal(cfg)
	os.WriteFile(see("config.json"), b, 0o644)
	args := []string{"--id", o.id, "--config-file", inside("config.json")}
	v.api = see("firecracker.socket")
	if o.noAPISock && !o.jailed {
		os.MkdirAll(see("hidden"), 0o755)
		v.api = see("hidden/api.sock")
	} else if o.jailed {
		v.api = see("run/firecracker.socket")
	} else {
		args = append([]string{"--api-sock", inside("firecracker.socket")}, args...)
	}
	path := bin
	if o.jailed {
		path = "/firecracker"
	}
	v.cmd = exec.Command(path, args...)
	v.cmd.Env = []string{"FCSTANDIN_FORWARD=8080=" + o.guest, "FCSTANDIN_BALLOON_FILE=" + inside("balloon.json"),
		"FCSTANDIN_VCPU_BUSY=" + o.busy, "FCSTANDIN_NET_RATE=1000"}
	if o.noAPISock && !o.jailed {
		v.cmd.Env = append(v.cmd.Env, "FCSTANDIN_API_SOCK="+v.api)
	}
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if o.jailed {
		v.cmd.SysProcAttr.Chroot = dir
		v.cmd.Dir = "/"
	}
	v.cmd.Stderr = os.Stderr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.cmd.Process.Kill(); v.cmd.Wait() })
	return v
}

// discoveringAgent runs a host agent that discovers VMs below scope.
func discoveringAgent(t *testing.T, scope string) *testAgent {
	return startAgent(t, func(c *Config) {
		c.Discover, c.DiscoverScope = true, scope
		c.Interval = 200 * time.Millisecond
		c.GuestAllowCIDRs = "127.0.0.0/8"
	})
}

func (ta *testAgent) samples(t *testing.T) wire.HostSamples {
	t.Helper()
	var s wire.HostSamples
	code, body := ta.call(t, "GET", "/v1/samples", "", &s)
	mustStatus(t, 200, code, body)
	return s
}

func sampleOf(s wire.HostSamples, id string) *wire.VMSample { return s.VM(id) }

// waitSample polls /v1/samples until ok holds for VM id.
func (ta *testAgent) waitSample(t *testing.T, id string, within time.Duration, what string, ok func(*wire.VMSample) bool) (*wire.VMSample, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		s := sampleOf(ta.samples(t), id)
		if s != nil && ok(s) {
			return s, time.Since(start)
		}
		if time.Since(start) > within {
			b, _ := json.Marshal(s)
			t.Fatalf("%s: not within %v; VM %s is %s", what, within, id, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDiscoveryPlain: a Firecracker process started with a config file is
// found by itself: its guest agent read over vsock, its metrics FIFO, its
// vCPU threads and balloon; it is gone within two intervals of exiting, and
// nothing of it outlives it.
func TestDiscoveryPlain(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	guest := guestAgent(t)
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	fdsBefore, gBefore := openFDs(t), runtime.NumGoroutine()
	started := time.Now()
	vm := startFirecracker(t, fcOpts{id: "vm-plain", vcpus: 2, guest: guest, balloon: true, busy: "0.5,0", dir: filepath.Join(scope, "a")})
	s, _ := ta.waitSample(t, "vm-plain", 5*time.Second, "the VM with its guest over vsock", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Balloon != nil && s.VCPU != nil && s.Firecracker != nil && s.Firecracker.Lines > 0
	})
	t.Logf("discovered with every source %v after the process started", time.Since(started).Round(time.Millisecond))
	if !s.Discovered || s.Guest.Transport != wire.TransportVsock || s.Guest.MemoryTotalKB == 0 || s.Guest.AgeMs > 1000 {
		t.Errorf("guest part %+v", s.Guest)
	}
	if s.VCPU.Count != 2 || s.VCPU.UsagePercent > 100 {
		t.Errorf("vcpu %+v", s.VCPU)
	}
	if b := s.Balloon; b.TotalKB == nil || *b.TotalKB != 262144 || *b.AvailableKB != 196608 {
		t.Errorf("balloon %+v", b)
	}
	var list []wire.VMInfo
	ta.call(t, "GET", "/v1/vms", "", &list)
	if len(list) != 1 || !list[0].Discovered || list[0].PID != vm.cmd.Process.Pid || list[0].Firecracker == nil ||
		list[0].Firecracker.VCPUs != 2 || list[0].Tap != "tap-vm-plain" || list[0].VsockUDS == "" {
		t.Errorf("VM as listed: %+v", list)
	}
	// A discovered VM cannot be detached: it leaves with its process.
	if code, body := ta.call(t, "DELETE", "/v1/vms/vm-plain", "", nil); code != 409 || !strings.Contains(body, "discovered") {
		t.Errorf("DELETE of a discovered VM: %d %s", code, body)
	}
	vm.cmd.Process.Kill()
	vm.cmd.Wait()
	gone := time.Now()
	for sampleOf(ta.samples(t), "vm-plain") != nil {
		if time.Since(gone) > 2*ta.cfg.Interval+500*time.Millisecond {
			t.Fatalf("the VM is still listed %v after its process exited", time.Since(gone))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("gone %v after its process exited", time.Since(gone).Round(time.Millisecond))
	// Nothing of it outlives it: descriptors and goroutines return.
	waitFor(t, "descriptors and goroutines back", 3*time.Second, func() bool {
		http.DefaultClient.CloseIdleConnections()
		return openFDs(t) <= fdsBefore && runtime.NumGoroutine() <= gBefore
	})
}

// TestDiscoveryJailed: a Firecracker in a chroot, as the jailer leaves it,
// with its API socket at /run/firecracker.socket inside the jail.
func TestDiscoveryJailed(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	guest := guestAgent(t)
	jail := filepath.Join(scope, "firecracker", "vm-jailed", "root")
	os.MkdirAll(jail, 0o755)
	vm := startFirecracker(t, fcOpts{id: "vm-jailed", guest: guest, jailed: true, dir: jail})
	s, d := ta.waitSample(t, "vm-jailed", 5*time.Second, "the jailed VM", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Firecracker != nil && s.Firecracker.Lines > 0
	})
	t.Logf("jailed VM with its guest after %v", d)
	var info wire.VMInfo
	ta.call(t, "GET", "/v1/vms/vm-jailed", "", &info)
	want := fmt.Sprintf("/proc/%d/root/run/firecracker.socket", vm.cmd.Process.Pid)
	if info.APISocket != want || !strings.HasPrefix(info.VsockUDS, fmt.Sprintf("/proc/%d/root/", vm.cmd.Process.Pid)) {
		t.Errorf("jailed paths: api %q vsock %q, want them through /proc/<pid>/root", info.APISocket, info.VsockUDS)
	}
	_ = s
}

// TestDiscoveryByListeningSockets: a Firecracker whose command line names
// no API socket (and which has none at the default path) is found through
// the Unix sockets it listens on.
func TestDiscoveryByListeningSockets(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	dir := filepath.Join(scope, "b")
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	startFirecracker(t, fcOpts{id: "vm-nosock", guest: guestAgent(t), noAPISock: true, dir: dir})
	ta.waitSample(t, "vm-nosock", 5*time.Second, "the VM found by its sockets", func(s *wire.VMSample) bool { return s.Guest != nil })
}

// TestDiscoveredAndAttachedAreOne: POST /v1/vms with a discovered VM's id
// makes one VM, not two; detaching it leaves it discovered.
func TestDiscoveredAndAttachedAreOne(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	startFirecracker(t, fcOpts{id: "vm-both", guest: guestAgent(t), dir: filepath.Join(scope, "c")})
	ta.waitSample(t, "vm-both", 5*time.Second, "discovered", func(s *wire.VMSample) bool { return s.Guest != nil })
	code, body := ta.call(t, "POST", "/v1/vms", `{"id":"vm-both","tap":"tap-other"}`, nil)
	mustStatus(t, 200, code, body)
	var list []wire.VMInfo
	ta.call(t, "GET", "/v1/vms", "", &list)
	if len(list) != 1 || !list[0].Discovered || list[0].Tap != "tap-other" || list[0].VsockUDS == "" {
		t.Fatalf("after attaching a discovered id: %+v", list)
	}
	code, body = ta.call(t, "DELETE", "/v1/vms/vm-both", "", nil)
	mustStatus(t, 204, code, body)
	ta.call(t, "GET", "/v1/vms", "", &list)
	if len(list) != 1 || !list[0].Discovered || list[0].Tap != "tap-vm-both" {
		t.Fatalf("after detaching: %+v", list)
	}
}

// TestAttachByAPISocket: a VM attached by its API socket alone is read like
// a discovered one: Firecracker names its vsock socket and balloon.
func TestAttachByAPISocket(t *testing.T) {
	ta := startAgent(t, func(c *Config) { c.Interval = 200 * time.Millisecond })
	vm := startFirecracker(t, fcOpts{id: "vm-attach", guest: guestAgent(t), balloon: true})
	waitFor(t, "the API socket", 5*time.Second, func() bool { _, err := os.Stat(vm.api); return err == nil })
	body := `{"id":"vm-attach","pid":` + strconv.Itoa(vm.cmd.Process.Pid) + `,"api_socket":"` + vm.api + `","metrics_fifo":"` + vm.fifo + `"}`
	code, resp := ta.call(t, "POST", "/v1/vms", body, nil)
	mustStatus(t, 201, code, resp)
	s, _ := ta.waitSample(t, "vm-attach", 5*time.Second, "the attached VM's guest and balloon", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Balloon != nil && s.Firecracker != nil && s.Firecracker.Lines > 0
	})
	if s.Discovered {
		t.Error("an attached VM reads as discovered (discovery is off)")
	}
}

// TestGuestStopsAndReturns: with the guest agent gone, the VM's vCPU and
// balloon figures are still there and the guest part ages, saying why;
// when it returns, the guest part is fresh again.
func TestGuestStopsAndReturns(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"cpu_usage_percent":5,"memory_usage_percent":50,"memory_used_kb":100,"memory_total_kb":200,"memory_available_kb":100,"uptime_seconds":9}`)
	})}
	go srv.Serve(ln)
	startFirecracker(t, fcOpts{id: "vm-fall", guest: addr, balloon: true, dir: filepath.Join(scope, "d")})
	ta.waitSample(t, "vm-fall", 5*time.Second, "guest", func(s *wire.VMSample) bool { return s.Guest != nil && s.Guest.AgeMs < 500 })
	srv.Close()
	s, d := ta.waitSample(t, "vm-fall", 2*time.Second, "the guest's failure", func(s *wire.VMSample) bool {
		return s.Errors["guest"] != "" && s.Balloon != nil && s.VCPU != nil
	})
	t.Logf("guest failure seen after %v: %s", d, s.Errors["guest"])
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the guest's port was taken meanwhile: %v", err)
	}
	srv = &http.Server{Handler: srv.Handler}
	go srv.Serve(ln)
	defer srv.Close()
	ta.waitSample(t, "vm-fall", 2*time.Second, "the guest again", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Guest.AgeMs < 500 && s.Errors["guest"] == ""
	})
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (descriptors %d, goroutines %d)", what, within, openFDs(t), runtime.NumGoroutine())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGuestSeriesInHostMetrics: one scrape of the host agent carries every
// VM's guest series under node_exporter's names, labelled vm_id.
func TestGuestSeriesInHostMetrics(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	startFirecracker(t, fcOpts{id: "vm-p1", guest: guestAgent(t), dir: filepath.Join(scope, "p1")})
	startFirecracker(t, fcOpts{id: "vm-p2", guest: guestAgent(t), dir: filepath.Join(scope, "p2")})
	for _, id := range []string{"vm-p1", "vm-p2"} {
		ta.waitSample(t, id, 5*time.Second, "guest", func(s *wire.VMSample) bool { return s.Guest != nil })
	}
	req, _ := http.NewRequest("GET", ta.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fams, err := promparse.Parse(text)
	if err != nil {
		t.Fatalf("the host agent's /metrics does not parse: %v", err)
	}
	for _, name := range []string{"node_memory_MemTotal_bytes", "node_cpu_seconds_total", "node_load1", "guest_agent_build_info"} {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing", name)
			continue
		}
		ids := map[string]bool{}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "vm_id" {
					ids[l.GetValue()] = true
				}
			}
		}
		if !ids["vm-p1"] || !ids["vm-p2"] {
			t.Errorf("%s has series of %v, want both VMs", name, ids)
		}
	}
	if fams["host_agent_vms_attached"] == nil {
		t.Error("the host agent's own series are missing")
	}
}

// FuzzFirecrackerAnswers: whatever Firecracker's API answers, turning it
// into the agent's account never panics and never invents figures.
func FuzzFirecrackerAnswers(f *testing.F) {
	f.Add([]byte(`{"id":"a","state":"Running"}`), []byte(`{"machine-config":{"vcpu_count":2},"vsock":{"uds_path":"/v"},"balloon":{"stats_polling_interval_s":1},"network-interfaces":[{"host_dev_name":"tap0"}]}`),
		[]byte(`{"total_memory":1024,"available_memory":512}`))
	f.Add([]byte(`null`), []byte(`{"balloon":null,"vsock":null}`), []byte(`{"free_memory":-1}`))
	f.Fuzz(func(t *testing.T, instance, config, balloon []byte) {
		var ii firecracker.InstanceInfo
		var vc firecracker.VMConfig
		var bs firecracker.BalloonStats
		json.Unmarshal(instance, &ii)
		json.Unmarshal(config, &vc)
		info := firecracker.Info(ii, vc)
		if info.VCPUs != vc.MachineConfig.VCPUCount || (vc.Balloon == nil && info.BalloonStats) {
			t.Fatalf("account %+v of %s", info, config)
		}
		if json.Unmarshal(balloon, &bs) == nil {
			b := firecracker.BalloonKB(&bs)
			if (bs.TotalMemory == nil) != (b.TotalKB == nil) {
				t.Fatalf("balloon %+v from %s", b, balloon)
			}
		}
	})
}

// TestDiscoveryLaunchedThroughTheAPI: a Firecracker configured through its
// API (PUT /metrics, /vsock, InstanceStart), as firecracker-go-sdk and most
// launchers do: its API never names the metrics FIFO (GET /vm/config
// answers "metrics": null), and the host agent finds it among the files
// the process holds open for writing; a drive's file open for writing is
// not taken for it.
func TestDiscoveryLaunchedThroughTheAPI(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	for _, kind := range []string{"fifo", "file"} {
		t.Run(kind, func(t *testing.T) {
			launchThroughAPI(t, ta, filepath.Join(scope, kind), "vm-api-"+kind, kind == "fifo")
		})
	}
}

// launchThroughAPI starts a stand-in in dir and configures it through its
// API, its metrics output a FIFO or (Firecracker making it) a regular file.
func launchThroughAPI(t *testing.T, ta *testAgent, dir, id string, fifoOut bool) {
	bin, _ := bins(t)
	os.MkdirAll(dir, 0o755)
	sock, fifo, disk := filepath.Join(dir, "api.sock"), filepath.Join(dir, "m.out"), filepath.Join(dir, "disk.img")
	if fifoOut {
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(disk, make([]byte, 4096), 0o600)
	cmd := exec.Command(bin, "--id", id, "--api-sock", sock)
	cmd.Env = []string{"FCSTANDIN_FORWARD=8080=" + guestAgent(t), "FCSTANDIN_NET_RATE=1000"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "the API socket", 5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	api := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	for _, r := range []struct{ path, body string }{
		{"/machine-config", `{"vcpu_count":1,"mem_size_mib":128}`},
		{"/drives/rootfs", `{"drive_id":"rootfs","path_on_host":"` + disk + `","is_root_device":true,"is_read_only":false}`},
		{"/network-interfaces/eth0", `{"iface_id":"eth0","host_dev_name":"tap-api"}`},
		{"/vsock", `{"guest_cid":3,"uds_path":"` + filepath.Join(dir, "v.sock") + `"}`},
		{"/metrics", `{"metrics_path":"` + fifo + `"}`},
		{"/actions", `{"action_type":"InstanceStart"}`},
	} {
		req, _ := http.NewRequest("PUT", "http://localhost"+r.path, strings.NewReader(r.body))
		res, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 {
			t.Fatalf("PUT %s: %d", r.path, res.StatusCode)
		}
	}
	s, d := ta.waitSample(t, id, 5*time.Second, "the VM's Firecracker lines and guest", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Firecracker != nil && s.Firecracker.Lines > 0 && s.Network != nil
	})
	t.Logf("found with its metrics FIFO after %v", d)
	var info wire.VMInfo
	ta.call(t, "GET", "/v1/vms/"+id, "", &info)
	if info.MetricsFIFO != fifo || info.MetricsProblem != "" {
		t.Errorf("metrics %q (problem %q), want %q", info.MetricsFIFO, info.MetricsProblem, fifo)
	}
	_ = s
}

// TestDiscoveryNoMetricsSaysWhy: a Firecracker with no metrics output is
// listed with the reason its network and disk figures are missing.
func TestDiscoveryNoMetricsSaysWhy(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	bin, _ := bins(t)
	dir := filepath.Join(scope, "none")
	os.MkdirAll(dir, 0o755)
	cmd := exec.Command(bin, "--id", "vm-none", "--api-sock", filepath.Join(dir, "api.sock"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ta.waitSample(t, "vm-none", 5*time.Second, "the VM", func(s *wire.VMSample) bool { return true })
	var info wire.VMInfo
	ta.call(t, "GET", "/v1/vms/vm-none", "", &info)
	if !strings.Contains(info.MetricsProblem, "names no metrics output") {
		t.Errorf("metrics_problem %q", info.MetricsProblem)
	}
}

// Package unprivileged runs the host agent as its packaged unit does: as
// a user of its own with only the capabilities the unit grants, read from
// deploy/systemd/fcmon-host-agent.service. Beside a jailed Firecracker
// (the stand-in, pivot_root'ed, as the jailer's uid) it must read all it
// reads as root; with no capability it must not, so each one is needed.
package unprivileged

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/jail"
	"github.com/fcmon/fcmon/internal/testsupport/poll"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

var hostAgentBin, standInBin string

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "unprivileged host agent tests", []string{"host-agent"}, &hostAgentBin))
}

const (
	agentUID = 64999     // the fcmon user, for this test
	jailUID  = 800000123 // in the jailer's block, which --discover-uids watches by default
)

// unitCaps are the capabilities the host agent's unit gives it, as
// setpriv names them (dac_override, ...).
func unitCaps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/systemd/fcmon-host-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^AmbientCapabilities=(.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the unit grants no AmbientCapabilities")
	}
	var caps []string
	for _, c := range strings.Fields(string(m[1])) {
		caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	bound := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.+)$`).FindSubmatch(b)
	if bound == nil || strings.Join(strings.Fields(string(bound[1])), " ") != strings.Join(strings.Fields(string(m[1])), " ") {
		t.Fatalf("the unit's bounding set %q is not its ambient set %q", bound, m[1])
	}
	return caps
}

// jailedVM starts the Firecracker stand-in in a pivot_root jail as
// jailUID, its API socket, config and metrics FIFO inside, owned by it
// (mode 0600: another user needs CAP_DAC_OVERRIDE), below base.
func jailedVM(t *testing.T, base, id string) *exec.Cmd {
	t.Helper()
	if standInBin == "" {
		bin, err := testbuild.Firecracker(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		standInBin = bin
	}
	parent := filepath.Join(base, id)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := jail.Dir(t, parent, jailUID, jailUID)
	prog := jail.Install(t, standInBin, dir, "firecracker")
	fifo := filepath.Join(dir, "run", "metrics.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"machine-config":{"vcpu_count":1,"mem_size_mib":128},"metrics":{"metrics_path":"/run/metrics.fifo"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, cfg} {
		if err := os.Chown(p, jailUID, jailUID); err != nil {
			t.Fatal(err)
		}
	}
	cmd := jail.Command(t, jail.Pivot, dir, jailUID, jailUID, prog, "--id", id, "--api-sock", "/run/api.sock", "--config-file", "/config.json")
	cmd.Env = []string{"FCSTANDIN_NET_RATE=1000"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sock := filepath.Join(dir, "run", "api.sock")
	poll.Until(t, 10*time.Second, "the jailed stand-in's API socket", func() bool { _, err := os.Stat(sock); return err == nil })
	if err := os.Chmod(sock, 0o600); err != nil { // as the jailer's Firecracker leaves it: its user's alone
		t.Fatal(err)
	}
	return cmd
}

// startAgent runs the host agent as agentUID with caps (none: nil) and
// no other privilege, discovering below base.
func startAgent(t *testing.T, base string, caps []string) *testprog.Proc {
	t.Helper()
	set := "-all"
	if len(caps) > 0 {
		set = "-all,+" + strings.Join(caps, ",+")
	}
	id := strconv.Itoa(agentUID)
	return testprog.Start(t, "setpriv", t.TempDir(), nil, testprog.HostServing,
		"--reuid", id, "--regid", id, "--clear-groups", "--no-new-privs",
		"--inh-caps", set, "--ambient-caps", set, "--bounding-set", set,
		hostAgentBin, "--listen", "127.0.0.1:0", "--interval", "250ms", "--allow-paths", base, "--discover-scope", base)
}

func samples(t *testing.T, p *testprog.Proc) wire.HostSamples {
	t.Helper()
	var s wire.HostSamples
	resp, err := http.Get("http://" + p.Addr + "/v1/samples")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostAgentWithTheUnitsCapabilities: as its own user with the unit's
// four capabilities, the host agent discovers a jailed Firecracker of the
// jailer's uid, reads the VMM's figures (another user's /proc), its
// metrics FIFO and API socket through its jail (mode 0600, another user's),
// and hears how it ended from the kernel's process events.
func TestHostAgentWithTheUnitsCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users and jailing a process needs root; make test runs as root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	caps := unitCaps(t)
	if got := strings.Join(caps, " "); got != "dac_override sys_ptrace net_admin syslog" {
		t.Logf("the unit grants %s", got)
	}
	base, err := os.MkdirTemp("", "unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	vm := jailedVM(t, base, "vm-jailed")

	agent := startAgent(t, base, caps)
	var s *wire.VMSample
	poll.Until(t, 15*time.Second, "the jailed VM read in full", func() bool {
		s = samples(t, agent).VM("vm-jailed")
		return s != nil && s.Process != nil && s.Process.CPUSecondsTotal >= 0 && s.Firecracker != nil && s.Firecracker.Lines > 0 &&
			s.Firecracker.Flush != nil && s.Firecracker.Flush.Requests > 0
	})
	if s.Firecracker.Flush.Failures != 0 || len(s.Errors) != 0 {
		t.Errorf("with the unit's capabilities: flush %+v, errors %v", s.Firecracker.Flush, s.Errors)
	}
	if !s.Discovered || s.Process.PID != vm.Process.Pid {
		t.Errorf("the sample: %+v", s)
	}
	if strings.Contains(agent.Log(), "process events are unavailable") {
		t.Error("with CAP_NET_ADMIN the process events should be heard")
	}
	vm.Process.Signal(syscall.SIGTERM)
	vm.Wait()
	poll.Until(t, 10*time.Second, "the exit with its reason", func() bool {
		for _, e := range samples(t, agent).Exits {
			if e.ID == "vm-jailed" && e.Reason != "" {
				return true
			}
		}
		return false
	})

	// The same user without a capability reads none of it.
	base2, err := os.MkdirTemp("", "unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base2) })
	os.Chmod(base2, 0o755)
	jailedVM(t, base2, "vm-plain-user")
	bare := startAgent(t, base2, nil)
	time.Sleep(2 * time.Second) // eight intervals
	plain := samples(t, bare).VM("vm-plain-user")
	if plain != nil && (plain.Firecracker != nil && plain.Firecracker.Lines > 0 || plain.Guest != nil) {
		t.Errorf("without capabilities the jailed VM's FIFO or sockets were read: %+v", plain)
	}
	b, _ := json.Marshal(plain)
	t.Logf("without capabilities: %s", b)
	if !strings.Contains(bare.Log(), "needs CAP_SYS_PTRACE and CAP_DAC_OVERRIDE") {
		t.Errorf("without capabilities the log does not say what the host agent lacks:\n%s", bare.Log())
	}
	if !strings.Contains(bare.Log(), "process events are unavailable") {
		t.Error("without CAP_NET_ADMIN the log does not say the process events are unavailable")
	}
}

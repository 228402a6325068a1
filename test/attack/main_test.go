// Package attack tries the real programs as an attacker would: an
// unprivileged user on the host running a process posing as Firecracker
// (test/hostilefc, as nobody, plain or jailed), a tenant's hostile guest
// behind the vsock socket, a host agent reporting churning VM ids, a TSDB
// that streams without end. Every test runs inside a network namespace of
// its own (internal/testsupport/netns), as root, so nothing here can reach
// beyond loopback.
package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/jail"
	"github.com/fcmon/fcmon/internal/testsupport/netns"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// The binaries TestMain builds.
var hostAgentBin, managerBin, hostileBin, standInBin string

func TestMain(m *testing.M) {
	if os.Getenv("FCMON_TEST_NETNS") == "1" || os.Geteuid() != 0 {
		dir, err := os.MkdirTemp("", "attack-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bins, err := testbuild.Programs(dir, "host-agent", "manager")
		if err == nil {
			hostAgentBin, managerBin = bins[0], bins[1]
			os.MkdirAll(filepath.Join(dir, "hostile"), 0o755)
			hostileBin, err = testbuild.Build(filepath.Join(dir, "hostile"), "./test/hostilefc", "firecracker")
		}
		if err == nil {
			standInBin, err = testbuild.Firecracker(dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "attack tests:", err)
			os.Exit(1)
		}
		os.Chmod(dir, 0o755)
		code := netns.Main(m)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(netns.Main(m))
}

// host is the ground an attack happens on: a directory the host agent is
// allowed (and scoped) to, with a root-only corner holding a secret and a
// root-only socket, and the host agent itself, as root.
type host struct {
	base     string // --allow-paths and --discover-scope
	rootOnly string // mode 0700, root's
	secret   string // a root-only file of 26 lines
	rootSock string // a root-only socket; connections to it are counted
	tokenDir string
	agent    *testprog.Proc
	url      string

	mu    sync.Mutex
	dials int // connections the root-only socket got
	heard []byte
}

// newHost prepares the ground and starts a host agent with extra flags,
// discovering below the whole ground.
func newHost(t *testing.T, flags ...string) *host {
	t.Helper()
	return newHostScoped(t, "", flags...)
}

// newHostScoped is newHost with --discover-scope the directory scope below
// the ground (made first).
func newHostScoped(t *testing.T, scope string, flags ...string) *host {
	t.Helper()
	netns.Require(t)
	base, err := os.MkdirTemp("", "attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	h := &host{base: base, rootOnly: filepath.Join(base, "rootonly"), tokenDir: t.TempDir()}
	must(t, os.Mkdir(h.rootOnly, 0o700))
	h.secret = filepath.Join(h.rootOnly, "shadow")
	must(t, os.WriteFile(h.secret, []byte(strings.Repeat("root:$6$secret:19000:0:99999:7:::\n", 26)), 0o600))
	h.rootSock = filepath.Join(h.rootOnly, "root.sock")
	ln, err := net.Listen("unix", h.rootSock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.dials++
			h.mu.Unlock()
			go func() {
				c.SetDeadline(time.Now().Add(2 * time.Second))
				b, _ := io.ReadAll(io.LimitReader(c, 4096))
				h.mu.Lock()
				h.heard = append(h.heard, b...)
				h.mu.Unlock()
				c.Close()
			}()
		}
	}()
	tok := filepath.Join(h.tokenDir, "guest.token")
	must(t, os.WriteFile(tok, []byte("guest-secret-token\n"), 0o600))
	must(t, os.MkdirAll(filepath.Join(base, scope), 0o755))
	args := append([]string{"--listen", "127.0.0.1:0", "--interval", "250ms", "--allow-paths", base,
		"--discover-scope", filepath.Join(base, scope), "--guest-token-file", tok, "--kernel-log", ""}, flags...)
	h.agent = testprog.Start(t, hostAgentBin, t.TempDir(), nil, testprog.HostServing, args...)
	h.url = "http://" + h.agent.Addr
	return h
}

// rootSocket reports what the root-only socket got.
func (h *host) rootSocket() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dials, string(h.heard)
}

// fake is one hostile process posing as Firecracker.
type fake struct {
	pid  int
	dir  string // its directory on the host (its jail when jailed)
	cfg  string // its HOSTILEFC_CONFIG, on the host
	seen string // where it records the API requests it got, on the host
}

// fakeOpts shape a fake: its answers (vm_config and the rest of
// hostilefc's configuration), its jail, its user.
type fakeOpts struct {
	id    string
	mode  jail.Mode // None: on the host's root
	uid   int       // default nobody
	conf  map[string]any
	args  []string // more arguments
	where string   // its directory below the host's base; default "vm-<id>"
	// fcConfig, when set, is the Firecracker --config-file the fake is
	// started with: the place, besides --metrics-path, where a VM names
	// its metrics output (Firecracker's API never answers it).
	fcConfig map[string]any
}

// startFake starts a hostile process as uid (nobody by default) in a
// directory of its own below h.base, owned by it.
func (h *host) startFake(t *testing.T, o fakeOpts) *fake {
	t.Helper()
	if o.uid == 0 {
		o.uid = jail.Nobody
	}
	where := o.where
	if where == "" {
		where = "vm-" + o.id
	}
	parent := filepath.Join(h.base, where)
	must(t, os.MkdirAll(parent, 0o755))
	f := &fake{}
	conf := map[string]any{}
	for k, v := range o.conf {
		conf[k] = v
	}
	var prog, inside string // the program and the fake's own directory, as it sees them
	if o.mode == jail.None {
		f.dir = filepath.Join(parent, "own")
		must(t, os.MkdirAll(f.dir, 0o755))
		must(t, os.Chown(f.dir, o.uid, o.uid))
		prog, inside = hostileBin, f.dir
	} else {
		f.dir = jail.Dir(t, parent, o.uid, o.uid)
		prog, inside = jail.Install(t, hostileBin, f.dir, "firecracker"), "/run"
	}
	f.seen = filepath.Join(f.dir, "asked")
	conf["api_capture"] = filepath.Join(inside, "asked")
	b, _ := json.Marshal(conf)
	f.cfg = filepath.Join(f.dir, "fake.json")
	must(t, os.WriteFile(f.cfg, b, 0o644))
	cfgInside := filepath.Join(inside, "fake.json")
	if o.mode != jail.None {
		cfgInside = "/fake.json"
	}
	api := filepath.Join(inside, "api.sock")
	// Discovery reads a flag's first value, hostilefc (Go's flag) its
	// last: o.args come first, so they are what the host agent sees.
	args := append(append([]string{}, o.args...), "--id", o.id, "--api-sock", api)
	if o.fcConfig != nil {
		b, _ := json.Marshal(o.fcConfig)
		p := filepath.Join(f.dir, "vm.json")
		must(t, os.WriteFile(p, b, 0o644))
		must(t, os.Chown(p, o.uid, o.uid))
		named := filepath.Join(inside, "vm.json")
		if o.mode != jail.None {
			named = "/vm.json"
		}
		args = append(args, "--config-file", named)
	}
	cmd := jail.Command(t, o.mode, f.dir, o.uid, o.uid, prog, args...)
	cmd.Env = []string{"HOSTILEFC_CONFIG=" + cfgInside}
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f.pid = cmd.Process.Pid
	sock := filepath.Join(f.dir, "api.sock")
	if o.mode != jail.None {
		sock = filepath.Join(f.dir, "run", "api.sock")
	}
	waitFor(t, 10*time.Second, "the fake's API socket", func() bool { _, err := os.Stat(sock); return err == nil })
	return f
}

// asked is what the fake's API was asked so far.
func (f *fake) asked() string {
	b, _ := os.ReadFile(f.seen)
	return string(b)
}

func (h *host) samples(t *testing.T) wire.HostSamples {
	t.Helper()
	var s wire.HostSamples
	getJSON(t, h.url+"/v1/samples", &s)
	return s
}

func sampleOf(s wire.HostSamples, id string) *wire.VMSample { return s.VM(id) }

// waitVM waits until the host agent lists VM id with ok holding.
func (h *host) waitVM(t *testing.T, id string, within time.Duration, ok func(*wire.VMSample) bool) *wire.VMSample {
	t.Helper()
	var got *wire.VMSample
	waitFor(t, within, "VM "+id, func() bool {
		got = sampleOf(h.samples(t), id)
		return got != nil && (ok == nil || ok(got))
	})
	return got
}

// rssKB is the host agent's peak resident memory (VmHWM).
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func post(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s %s: %d %s, want %d", url, body, resp.StatusCode, b, want)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/cgtest"
	"github.com/fcmon/fcmon/internal/testsupport/procfixture"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// pollInterval is the managers' --poll-interval here: the charts move
// with every sample, and the fallback shows within two intervals.
const pollInterval = 500 * time.Millisecond

// nodeTimeout bounds a whole node --test run.
const nodeTimeout = 240 * time.Second

// testToken is the API token of the second manager, which the token
// prompt test signs in to.
const testToken = "ui-test-token-7f3a"

// readToken is a read-only token of the second manager (--tokens-file):
// signed in with it, the page shows no write forms.
const readToken = "ui-read-token-0123456789"

// web-1's VMM cgroup: a tenth of a core, which its busy VMM always exceeds,
// and 256 MiB.
const (
	jailQuotaCores = 0.1
	jailMemLimit   = 256 << 20
)

// TestBrowser runs the Node browser tests (*.test.mjs) against two
// managers: an open one with three VMs (guest agent with host agent and
// Firecracker FIFO; host agent only; nothing), and one that needs a token.
// The tests stop and restart the first VM's guest agent through a small
// control server on loopback.
func TestBrowser(t *testing.T) {
	if skip != "" {
		t.Skip(skip)
	}
	open := startManager(t)
	host := startHostAgent(t)
	fifo := filepath.Join(t.TempDir(), "metrics.fifo")
	feedFIFO(t, fifo)
	ctl := &control{t: t, proc: procfixture.Copy(t)}
	procfixture.Animate(t, ctl.proc)
	ctl.guest = startGuestAgent(t, ctl.proc)
	ip, port := testprog.SplitAddr(t, ctl.guest.Addr)
	// web-1's VMM is jailed as the jailer's --cgroup-version 1 leaves it:
	// in a cgroup of its own with a CPU quota it keeps hitting and a memory
	// limit, so its page shows throttling and the cgroup's memory.
	vmm, jailed := startVMM(t), cgtest.Missing("cpu", "cpuacct", "memory")
	if jailed == "" {
		vmm = cgtest.New(t, cgtest.Quota(jailQuotaCores, jailMemLimit)).Busy(t)
	}
	register(t, open.Addr, "", map[string]any{"name": "web-1", "guest_ip": ip, "guest_port": port,
		"host_agent_url": "http://" + host.Addr, "vmm_pid": vmm, "metrics_fifo": fifo,
		"labels": map[string]string{"tenant": "acme", "tier": "web"}})
	register(t, open.Addr, "", map[string]any{"name": "batch-2",
		"host_agent_url": "http://" + host.Addr, "vmm_pid": startVMM(t), "labels": map[string]string{"tenant": "acme", "tier": "batch"}})
	register(t, open.Addr, "", map[string]any{"name": "spare-3"})

	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("read dashboard "+readToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secured := startManager(t, "--api-token", testToken, "--tokens-file", tokens)
	ip, port = testprog.SplitAddr(t, startGuestAgent(t, procfixture.Copy(t)).Addr)
	register(t, secured.Addr, testToken, map[string]any{"name": "secure-1", "guest_ip": ip, "guest_port": port})

	srv := httptest.NewServer(ctl)
	defer srv.Close()
	runNode(t, map[string]string{
		"FCMON_UI_URL":         "http://" + open.Addr + "/",
		"FCMON_UI_TOKEN_URL":   "http://" + secured.Addr + "/",
		"FCMON_UI_TOKEN":       testToken,
		"FCMON_UI_READ_TOKEN":  readToken,
		"FCMON_UI_CONTROL":     srv.URL,
		"FCMON_UI_NO_CGROUP":   jailed,
		"FCMON_UI_ARTIFACTS":   artifactsDir(t, "ui"),
		"FCMON_UI_SCREENSHOT":  screenshotPath(t),
		"FCMON_UI_PROFILE_DIR": t.TempDir(),
	})
}

// control lets the Node tests stop and restart web-1's guest agent:
// POST /guest/stop, POST /guest/start → {"ip", "port"} of the new agent.
type control struct {
	t     *testing.T
	proc  string
	mu    sync.Mutex
	guest *proc
}

func (c *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/guest/stop":
		c.guest.Stop()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "POST" && r.URL.Path == "/guest/start":
		// start calls t.Fatal on failure, which must not run off the
		// test's goroutine: check the outcome here instead.
		g := startGuestAgentQuietly(c.t, c.proc)
		if g == nil {
			http.Error(w, "the guest agent did not start", http.StatusInternalServerError)
			return
		}
		c.guest = g
		ip, port, _ := net.SplitHostPort(g.Addr)
		p, _ := strconv.Atoi(port)
		json.NewEncoder(w).Encode(map[string]any{"ip": ip, "port": p})
	default:
		http.NotFound(w, r)
	}
}

// startGuestAgentQuietly is startGuestAgent for the control server's
// goroutine: start's t.Fatal ends only the goroutine it runs in (the test
// is marked failed), and this returns nil then.
func startGuestAgentQuietly(t *testing.T, root string) (p *proc) {
	done := make(chan *proc, 1)
	go func() {
		ok := false
		defer func() {
			if !ok {
				done <- nil
			}
		}()
		g := startGuestAgent(t, root)
		ok = true
		done <- g
	}()
	return <-done
}

// runNode runs node --test over files (this directory's *.test.mjs but
// the fleet's when none are named) with env, one file at a time, its
// output streamed to the test log; it kills the node process group and
// any Chromium left in the profile directory when it ends, failed or not.
func runNode(t *testing.T, env map[string]string, files ...string) {
	t.Helper()
	if len(files) == 0 {
		all, _ := filepath.Glob("*.test.mjs")
		for _, f := range all {
			if !strings.HasPrefix(f, "fleet") {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no *.test.mjs files")
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	killBrowsers(t, env["FCMON_UI_PROFILE_DIR"])
	t.Logf("node --test (%v):\n%s", time.Since(began).Round(time.Millisecond), out.String())
	if ctx.Err() != nil {
		t.Fatalf("node --test did not finish within %v", nodeTimeout)
	}
	if err != nil {
		t.Fatalf("node --test: %v", err)
	}
}

// killBrowsers kills the Chromium processes whose profile lies under dir:
// Playwright starts them in their own process group, so a node process
// killed on timeout would leave them behind.
func killBrowsers(t *testing.T, dir string) {
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("--user-data-dir="+dir)) {
			continue
		}
		if pid, err := strconv.Atoi(strings.Split(p, "/")[2]); err == nil {
			t.Logf("killing leftover browser process %d", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

package ui

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a running program of ours, killed when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it serves on, from its log
	mu   sync.Mutex
	log  []byte
	done chan struct{}
}

var (
	guestServing   = regexp.MustCompile(`msg=serving addr=(\S+)`)
	hostServing    = regexp.MustCompile(`msg="host agent listening" addr=(\S+)`)
	managerServing = regexp.MustCompile(`msg="manager listening" addr=(\S+)`)
)

// start runs bin with args in dir and waits (at most 15 s) until its log
// names the address it serves on. The process dies with the test process
// (Pdeathsig) as well as in the test's cleanup, its log shown on failure.
func start(t *testing.T, bin, dir string, env []string, serving *regexp.Regexp, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(bin), cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(append(p.log, sc.Bytes()...), '\n')
			p.mu.Unlock()
			if m := serving.FindSubmatch(sc.Bytes()); m != nil {
				select {
				case addrs <- string(m[1]):
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, p.logText())
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.done:
		t.Fatalf("%s exited before serving:\n%s", p.name, p.logText())
	case <-time.After(15 * time.Second):
		t.Fatalf("%s not serving after 15s:\n%s", p.name, p.logText())
	}
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.log)
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// startVMM starts an idle child process standing for a Firecracker VMM.
func startVMM(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// startGuestAgent runs a guest agent over procRoot (see animateProc).
func startGuestAgent(t *testing.T, procRoot string) *proc {
	t.Helper()
	return start(t, guestAgentBin, procRoot, nil, guestServing, "--listen", "127.0.0.1:0",
		"--procfs", filepath.Join(procRoot, "proc"), "--sysfs", filepath.Join(procRoot, "sys"), "--interval", "250ms")
}

func startHostAgent(t *testing.T) *proc {
	t.Helper()
	return start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0", "--interval", "250ms")
}

// startManager runs the manager on a free loopback port with SQLite in a
// new directory and guests allowed on loopback.
func startManager(t *testing.T, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--poll-interval", pollInterval.String(),
		"--guest-allow-cidrs", "127.0.0.0/8"}, extra...)
	db := "DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")
	return start(t, managerBin, t.TempDir(), []string{db}, managerServing, args...)
}

// copyFixture copies the captured Linux 6.18 /proc and /sys into a new
// directory and returns it.
func copyFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../internal/procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	return root
}

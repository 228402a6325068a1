package manager

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a running program of ours.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it serves on, from its log
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

var (
	guestServing   = regexp.MustCompile(`msg=serving addr=(\S+)`)
	hostServing    = regexp.MustCompile(`msg="host agent listening" addr=(\S+)`)
	managerServing = regexp.MustCompile(`msg="manager listening" addr=(\S+)`)
)

// start runs bin in dir with env and args and waits until its log names
// the address it serves on. It is killed when the test ends, its log shown
// if the test failed.
func start(t *testing.T, bin, dir string, env []string, serving *regexp.Regexp, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(bin), cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
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
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
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
	return p.log.String()
}

// stop signals the process and waits until it has exited; it returns the
// exit code (-1 when killed by the signal).
func (p *proc) stop(sig syscall.Signal) int {
	p.cmd.Process.Signal(sig)
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// startGuestAgent runs a guest agent on a free loopback port over its own
// copy of the captured Linux 6.18 /proc and /sys.
func startGuestAgent(t *testing.T, extra ...string) *proc {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../internal/procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--procfs", filepath.Join(root, "proc"),
		"--sysfs", filepath.Join(root, "sys"), "--interval", "200ms"}, extra...)
	return start(t, guestAgentBin, root, nil, guestServing, args...)
}

func startHostAgent(t *testing.T) *proc {
	t.Helper()
	return start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0", "--interval", "200ms")
}

// manager is a running bin/manager and its API's base URL.
type manager struct {
	*proc
	base  string
	token string
}

// startManager runs the manager on a free loopback port with the test
// poll interval, guests allowed on loopback, and dbURL ("" for SQLite in a
// new directory).
func startManager(t *testing.T, dbURL string, extra ...string) *manager {
	t.Helper()
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--poll-interval", pollInterval.String(),
		"--guest-allow-cidrs", "127.0.0.0/8"}, extra...)
	p := start(t, managerBin, t.TempDir(), []string{"DATABASE_URL=" + dbURL}, managerServing, args...)
	return &manager{proc: p, base: "http://" + p.addr}
}

// startVMM starts an idle child process standing for a Firecracker VMM.
func startVMM(t *testing.T) int {
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// Package testprog runs fcmon's programs in tests: it starts a binary,
// keeps its log, waits until the log names the address it serves on, and
// makes sure the process ends with the test (and with the test process).
// Build the binaries with internal/testsupport/testbuild. It is for tests only.
package testprog

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The log lines with which each program names the address it serves on.
var (
	GuestServing   = regexp.MustCompile(`msg=serving addr=(\S+)`)
	HostServing    = regexp.MustCompile(`msg="host agent listening" addr=(\S+)`)
	ManagerServing = regexp.MustCompile(`msg="manager listening" addr=(\S+)`)
)

// Proc is a running program.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Addr string // host:port it serves on, from its log

	mu   sync.Mutex
	log  []byte
	done chan struct{}
}

// Start runs bin with args in dir, with env added to a minimal PATH, and
// waits (at most 15 s) until its log matches serving, whose first group is
// the address. The process dies with the test process (Pdeathsig) and is
// killed when the test ends; its log is shown if the test failed.
func Start(t testing.TB, bin, dir string, env []string, serving *regexp.Regexp, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: filepath.Base(bin), Cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	p.Cmd.Stderr = pw
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go p.readLog(pr, serving, addrs)
	go func() { p.Cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("%s log:\n%s", p.Name, p.Log())
		}
	})
	select {
	case p.Addr = <-addrs:
	case <-p.done:
		t.Fatalf("%s exited before serving:\n%s", p.Name, p.Log())
	case <-time.After(15 * time.Second):
		t.Fatalf("%s not serving after 15s:\n%s", p.Name, p.Log())
	}
	return p
}

// readLog keeps the program's log and sends the first serving address.
func (p *Proc) readLog(r io.Reader, serving *regexp.Regexp, addrs chan<- string) {
	sc := bufio.NewScanner(r)
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
	io.Copy(io.Discard, r)
}

// Log returns what the program has logged so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.log)
}

// Signal sends sig and waits until the program has exited; it returns the
// exit code (-1 when the signal killed it).
func (p *Proc) Signal(sig syscall.Signal) int {
	p.Cmd.Process.Signal(sig)
	<-p.done
	return p.Cmd.ProcessState.ExitCode()
}

// Stop asks the program to end (SIGTERM), kills it after 5 s, and waits.
func (p *Proc) Stop() {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// StartIdle starts an idle child process (sleep) standing for a
// Firecracker VMM, ended with the test, and returns its pid.
func StartIdle(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// SplitAddr is addr's host and port, as a program's log printed them.
func SplitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

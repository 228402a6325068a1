// Package e2e tests the whole system as make run assembles it: the real
// manager and host agent on loopback and two QEMU guests whose guest agents
// register themselves through the kernel command line (internal/testsupport/vmtest,
// internal/testsupport/demo). See TestSystem.
package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// Binaries TestMain builds, as the Makefile builds them.
var guestAgentBin, hostAgentBin, managerBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	return testbuild.Main(m, "e2e", []string{"guest-agent", "host-agent", "manager"}, &guestAgentBin, &hostAgentBin, &managerBin)
}

// program is a running manager or host agent, logging to a file.
type program struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

// startProgram runs bin with args and waits until healthURL answers 200. It is
// killed when the test ends, and its log shown if the test failed.
func startProgram(t *testing.T, bin, healthURL string, args ...string) *program {
	t.Helper()
	p := &program{name: filepath.Base(bin), done: make(chan struct{})}
	f, err := os.CreateTemp(t.TempDir(), p.name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.log = f.Name()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = []string{"PATH=/usr/bin:/bin"}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			data, _ := os.ReadFile(p.log)
			t.Logf("%s log (tail):\n%s", p.name, tail(string(data), 40))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", healthURL, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			data, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited before answering %s:\n%s", p.name, healthURL, data)
		case <-ctx.Done():
			t.Fatalf("%s did not answer %s within 20s", p.name, healthURL)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop signals the program and waits for its exit; it returns the exit code
// (-1 when killed by the signal).
func (p *program) stop(sig syscall.Signal) int {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	return p.cmd.ProcessState.ExitCode()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

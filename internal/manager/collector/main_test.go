package collector

import (
	"bufio"
	"context"
	"fmt"
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

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// The integration tests run the real agents, built as the Makefile builds
// them, over the captured /proc tree.
var guestAgentBin, hostAgentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "collector-test")
	if err != nil {
		panic(err)
	}
	bins, err := testbuild.Programs(dir, "guest-agent", "host-agent")
	if err != nil {
		panic(err)
	}
	guestAgentBin, hostAgentBin = bins[0], bins[1]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtureMemTotalKB is MemTotal in the fixture's /proc/meminfo.
const fixtureMemTotalKB = 24684092

// fixture copies the captured Linux 6.18 tree for one guest agent.
func fixture(t *testing.T) (proc, sys string) {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS("../../guestagent/procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, "proc"), filepath.Join(dst, "sys")
}

// agentProc is a running agent binary.
type agentProc struct {
	cmd    *exec.Cmd
	addr   string // host:port it serves on
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

var (
	guestServing = regexp.MustCompile(`msg=serving addr=(\S+)`)
	hostServing  = regexp.MustCompile(`msg="host agent listening" addr=(\S+)`)
)

// startAgent runs bin with args and waits until its log names the address
// it serves on. The process is killed when the test ends.
func startAgent(t *testing.T, bin string, serving *regexp.Regexp, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	a.cmd.Env = []string{"PATH=/usr/bin:/bin"}
	pr, pw := io.Pipe()
	a.cmd.Stderr = pw
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			a.mu.Lock()
			a.stderr.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() { a.cmd.Wait(); pw.Close(); close(a.done) }()
	t.Cleanup(func() {
		a.stop(syscall.SIGKILL)
		if t.Failed() {
			a.mu.Lock()
			t.Logf("%s stderr:\n%s", filepath.Base(bin), a.stderr.String())
			a.mu.Unlock()
		}
	})
	select {
	case a.addr = <-addrs:
	case <-a.done:
		t.Fatalf("%s exited before serving", bin)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s not serving after 10s", bin)
	}
	return a
}

// stop signals the agent and waits until it has exited.
func (a *agentProc) stop(sig syscall.Signal) {
	a.cmd.Process.Signal(sig)
	<-a.done
}

func startGuestAgent(t *testing.T, listen string) *agentProc {
	proc, sys := fixture(t)
	return startAgent(t, guestAgentBin, guestServing, "--listen", listen, "--procfs", proc, "--sysfs", sys, "--interval", "200ms")
}

func startHostAgent(t *testing.T, listen string) *agentProc {
	return startAgent(t, hostAgentBin, hostServing, "--listen", listen, "--interval", "200ms", "--allow-paths", os.TempDir(), "--discover=false")
}

// startVMM starts an idle process standing for a VMM.
func startVMM(t *testing.T) int { return testprog.StartIdle(t) }

// harness runs a Collector over a registry the test controls and records
// every sample and poll with the time it arrived.
type harness struct {
	c        *Collector
	interval time.Duration

	mu      sync.Mutex
	targets map[string]Target
	samples []received
	polls   []PollResult
}

type received struct {
	at time.Time
	s  wire.CombinedSample
}

func newHarness(t *testing.T, interval time.Duration, tune func(*Options)) *harness {
	h := &harness{interval: interval, targets: map[string]Target{}}
	opt := Options{
		PollInterval: interval,
		// The tests' agents listen on loopback.
		GuestAllow: netpolicy.MustParseList("--guest-allow-cidrs", "127.0.0.0/8"),
		Targets: func(context.Context) ([]Target, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			out := make([]Target, 0, len(h.targets))
			for _, t := range h.targets {
				out = append(out, t)
			}
			return out, nil
		},
		OnSample: func(s wire.CombinedSample) {
			h.mu.Lock()
			h.samples = append(h.samples, received{time.Now(), s})
			h.mu.Unlock()
		},
		OnPoll: func(p PollResult) {
			h.mu.Lock()
			h.polls = append(h.polls, p)
			h.mu.Unlock()
		},
	}
	if tune != nil {
		tune(&opt)
	}
	h.c = New(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancellation")
		}
	})
	return h
}

func (h *harness) set(tg Target) {
	h.mu.Lock()
	h.targets[tg.ID] = tg
	h.mu.Unlock()
}

// waitSample waits for a sample of vm, arriving at or after since, that
// satisfies ok.
func (h *harness) waitSample(t *testing.T, vm string, since time.Time, within time.Duration, what string, ok func(wire.CombinedSample) bool) received {
	t.Helper()
	deadline := time.Now().Add(within)
	next := 0
	for {
		h.mu.Lock()
		for ; next < len(h.samples); next++ {
			r := h.samples[next]
			if r.s.VMID == vm && !r.at.Before(since) && ok(r.s) {
				h.mu.Unlock()
				return r
			}
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			s, _ := h.c.Latest(vm)
			t.Fatalf("%s: no such sample of %s within %v; latest %s", what, vm, within, show(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// samplesOf returns the samples of vm that arrived in [from, to).
func (h *harness) samplesOf(vm string, from, to time.Time) []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []received
	for _, r := range h.samples {
		if r.s.VMID == vm && !r.at.Before(from) && r.at.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) pollsOf(vm, kind string) []PollResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []PollResult
	for _, p := range h.polls {
		if p.VMID == vm && p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func show(s wire.CombinedSample) string {
	return fmt.Sprintf("%+v net=%+v disk=%+v", s, s.Network, s.Disk)
}

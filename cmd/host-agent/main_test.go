package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/flood"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildAgent builds the binary once per test run, the way the Makefile
// does.
func buildAgent(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "host-agent-test"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "host-agent")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
			"-s -w -X github.com/fcmon/fcmon/internal/core/version.Version=test-1.2.3", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestCommandLine(t *testing.T) {
	bin := buildAgent(t)
	run := func(env []string, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	if code, out, _ := run(nil, "--help"); code != 0 || !strings.Contains(out, "--token-file") || !strings.Contains(out, "HOST_AGENT_INSECURE") {
		t.Errorf("--help: %d %s", code, out)
	}
	if code, out, _ := run(nil, "--version"); code != 0 || strings.TrimSpace(out) != "host-agent test-1.2.3" {
		t.Errorf("--version: %d %q", code, out)
	}
	bad := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--listen", "0.0.0.0:9091"}, "not a loopback address"},
		{[]string{"HOST_AGENT_LISTEN=:9091"}, nil, "not a loopback address"},
		{nil, []string{"--interval", "soon"}, "--interval"},
		{nil, []string{"--nope"}, "unknown flag --nope"},
		{nil, []string{"--log-level", "loud"}, "--log-level"},
		{nil, []string{"--token-file", "/nonexistent/token"}, "--token-file"},
	}
	for _, b := range bad {
		code, _, stderr := run(b.env, b.args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, b.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want exit 2 and one line with %q", b.env, b.args, code, stderr, b.want)
		}
	}
}

// agentProc is a running bin/host-agent.
type agentProc struct {
	cmd *exec.Cmd
	url string
}

var listenLog = regexp.MustCompile(`msg="host agent listening".* addr=(127\.0\.0\.1:[0-9]+)`)

func startBinary(t *testing.T, bin string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--allow-paths", os.TempDir(), "--discover=false"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenLog.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &agentProc{cmd: cmd, url: "http://" + a}
	case <-time.After(10 * time.Second):
		t.Fatal("host-agent did not log its address")
		return nil
	}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

func TestSignalShutdown(t *testing.T) {
	p := startBinary(t, buildAgent(t))
	post(t, p.url+"/v1/vms", `{"id":"a","metrics_fifo":"`+filepath.Join(t.TempDir(), "m")+`"}`)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func rssKB(t *testing.T, pid int) (rss, hwm int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rss, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm
}

// TestRSSWith100VMs measures the binary's memory with 100 attached VMs,
// each with its own FIFO fed Firecracker-sized lines and the test's pid as
// VMM, over several sampling intervals. The figures go to the log
// (go test -v) for docs/benchmarks.md.
func TestRSSWith100VMs(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for several seconds")
	}
	p := startBinary(t, buildAgent(t), "--interval", "500ms")
	time.Sleep(500 * time.Millisecond)
	idle, _ := rssKB(t, p.cmd.Process.Pid)
	line, err := os.ReadFile("../../internal/testsupport/fcstandin/metrics-line.json")
	if err != nil {
		t.Fatal(err)
	}
	line = append(bytes.TrimSpace(line), '\n')
	dir := t.TempDir()
	var writers []*os.File
	for i := range 100 {
		fifo := filepath.Join(dir, fmt.Sprintf("vm%03d.fifo", i))
		post(t, p.url+"/v1/vms", fmt.Sprintf(`{"id":"vm%03d","pid":%d,"metrics_fifo":"%s","tap":"lo"}`, i, os.Getpid(), fifo))
		w, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		writers = append(writers, w)
	}
	for range 6 {
		for _, w := range writers {
			w.Write(line)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for range 3 {
		resp, err := http.Get(p.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rss, hwm := rssKB(t, p.cmd.Process.Pid)
	t.Logf("host-agent RSS: %d KiB idle; %d KiB with 100 VMs attached (peak %d KiB)", idle, rss, hwm)
	if rss > 100<<10 {
		t.Errorf("RSS %d KiB with 100 VMs exceeds 100 MiB", rss)
	}
}

// TestOneByteFlood: 1,000 connections that each send one byte and
// reconnect when closed do not keep /health and /metrics from answering
// (p99 under 250 ms), and the agent's memory stays bounded. The flood this
// guards against stalled every answer for seconds; the bound sits well
// above what make test's packages running beside it add (p99 53 ms was
// seen in CI against an earlier 50 ms bound), as in the guest agent's
// test, and the latency itself is bench's to measure.
func TestOneByteFlood(t *testing.T) {
	p := startBinary(t, buildAgent(t))
	addr := strings.TrimPrefix(p.url, "http://")
	before, _ := rssKB(t, p.cmd.Process.Pid)
	var maxRSS int
	res := flood.Run(addr, addr, 1000, 6*time.Second, []string{"/health", "/metrics"}, func() {
		rss, _ := rssKB(t, p.cmd.Process.Pid)
		maxRSS = max(maxRSS, rss)
	})
	t.Logf("under 1,000 one-byte connections: %d probes, %d failed, p50 %v, p99 %v, RSS %d kB before, max %d kB",
		res.Probes, res.Failed, res.P50, res.P99, before, maxRSS)
	if res.Failed > 0 || res.P99 > 250*time.Millisecond {
		t.Errorf("%d of %d probes failed, p99 %v; want none and under 250 ms", res.Failed, res.Probes, res.P99)
	}
	if maxRSS > before+48*1024 {
		t.Errorf("RSS grew from %d to %d kB under the flood", before, maxRSS)
	}
}

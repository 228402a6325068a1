package guestagent

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
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

	"github.com/fcmon/fcmon/internal/testsupport/promparse"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// The tests here run the real, statically built binary, as a user would.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "guest-agent-test")
	if err != nil {
		panic(err)
	}
	if agentBin, err = testbuild.Program(dir, "guest-agent"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture copies the captured Linux 6.18 tree so a test can add files.
func fixture(t *testing.T) (proc, sys string) {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS("procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, "proc"), filepath.Join(dst, "sys")
}

type agent struct {
	cmd    *exec.Cmd
	addr   string // host:port of the first listener
	stderr *lockedBuffer
	done   chan error
}

var servingRe = regexp.MustCompile(`msg=serving addr=(\S+)`)

// start runs the agent with args and waits until it serves.
func start(t *testing.T, args ...string) *agent {
	t.Helper()
	cmd := exec.Command(agentBin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agent{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	addrs := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			a.stderr.WriteString(sc.Text() + "\n")
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
	}()
	go func() { a.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.stderr.String())
		}
	})
	select {
	case a.addr = <-addrs:
	case err := <-a.done:
		t.Fatalf("agent exited before serving: %v\n%s", err, a.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("agent not serving after 10s:\n%s", a.stderr.String())
	}
	return a
}

func (a *agent) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+a.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHealthAndMetrics(t *testing.T) {
	proc, sys := fixture(t)
	a := start(t, "--listen", "127.0.0.1:0", "--procfs", proc, "--sysfs", sys, "--interval", "200ms")
	resp, body := a.get(t, "/health")
	if resp.StatusCode != 200 || string(body) != "OK" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("/health = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = a.get(t, "/metrics")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/metrics = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	// The six fields of the original agent, with their types.
	for _, k := range []string{"cpu_usage_percent", "memory_usage_percent", "memory_used_kb", "memory_total_kb", "memory_available_kb", "uptime_seconds"} {
		if _, ok := doc[k].(float64); !ok {
			t.Errorf("field %s = %#v, want a number", k, doc[k])
		}
	}
	for _, k := range []string{"memory_used_kb", "memory_total_kb", "memory_available_kb", "uptime_seconds"} {
		if !regexp.MustCompile(`"` + k + `":\d+[,}]`).Match(body) {
			t.Errorf("%s is not written as an integer", k)
		}
	}
	memTotal := meminfoKB(t, filepath.Join(proc, "meminfo"), "MemTotal")
	if doc["memory_total_kb"] != float64(memTotal) {
		t.Errorf("memory_total_kb = %v, fixture's MemTotal is %d", doc["memory_total_kb"], memTotal)
	}
	if u, v := doc["memory_used_kb"].(float64), doc["memory_total_kb"].(float64)-doc["memory_available_kb"].(float64); u != v {
		t.Errorf("memory_used_kb %v != total - available %v", u, v)
	}
}

func meminfoKB(t *testing.T, path, field string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no %s", path, field)
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return n
}

func TestNegotiation(t *testing.T) {
	a := start(t, "--listen", "127.0.0.1:0")
	prom := "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	tests := []struct {
		name, path, accept string
		status             int
		wantProm           bool
	}{
		{"curl", "/metrics", "*/*", 200, false},
		{"no accept", "/metrics", "", 200, false},
		{"prometheus 2", "/metrics", prom, 200, true},
		{"prometheus 3", "/metrics", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", 200, true},
		{"json asked", "/metrics", "application/json", 200, false},
		{"text asked", "/metrics", "text/plain", 200, true},
		{"browser", "/metrics", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, false},
		{"query wins", "/metrics?format=prometheus", "application/json", 200, true},
		{"query json", "/metrics?format=json", prom, 200, false},
		{"bad format", "/metrics?format=xml", "", 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.get(t, tt.path, "Accept", tt.accept)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			ct := resp.Header.Get("Content-Type")
			if tt.wantProm {
				if ct != "text/plain; version=0.0.4; charset=utf-8" {
					t.Fatalf("Content-Type %q, want the text format", ct)
				}
				fams, err := promparse.Parse(body)
				if err != nil {
					t.Fatalf("Prometheus's parser: %v", err)
				}
				if fams["node_memory_MemTotal_bytes"] == nil || fams["node_cpu_seconds_total"] == nil {
					t.Errorf("node_exporter families missing")
				}
			} else if ct != "application/json" || !json.Valid(body) {
				t.Errorf("Content-Type %q valid JSON %v", ct, json.Valid(body))
			}
		})
	}
}

func TestToken(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("  s3cret-token\n"), 0o600)
	a := start(t, "--listen", "127.0.0.1:0", "--token-file", tok)
	for _, tt := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer wrong", 401}, {"Basic s3cret-token", 401}, {"Bearer s3cret-token", 200}, {"bearer s3cret-token", 200}} {
		resp, body := a.get(t, "/metrics", "Authorization", tt.auth)
		if resp.StatusCode != tt.status {
			t.Errorf("Authorization %q: %d, want %d (%s)", tt.auth, resp.StatusCode, tt.status, body)
		}
		if tt.status == 401 && (!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || !json.Valid(body)) {
			t.Errorf("401 without a Bearer challenge or JSON body: %q %s", resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	if resp, _ := a.get(t, "/health"); resp.StatusCode != 200 {
		t.Errorf("/health needs the token: %d", resp.StatusCode)
	}
}

func TestBadRequests(t *testing.T) {
	a := start(t, "--listen", "127.0.0.1:0")
	if resp, body := a.get(t, "/metricsx"); resp.StatusCode != 404 || !json.Valid(body) {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
	resp, err := http.Post("http://"+a.addr+"/metrics", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	conn, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	status, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 431") && !strings.HasPrefix(status, "HTTP/1.1 400") {
		t.Errorf("64 KiB header: %q, want 431 or 400", status)
	}
	if resp, _ := a.get(t, "/health"); resp.StatusCode != 200 {
		t.Errorf("/health after bad requests: %d", resp.StatusCode)
	}
}

// TestRSSAfterManyRequests checks the memory budget: at most 4 MiB resident
// (binary pages included) after 10,000 requests on keep-alive connections.
func TestRSSAfterManyRequests(t *testing.T) {
	a := start(t, "--listen", "127.0.0.1:0")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for i := range 10000 {
		path := "/metrics"
		if i%2 == 1 {
			path = "/metrics?format=prometheus"
		}
		resp, err := client.Get("http://" + a.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	rss := rssKB(t, a.cmd.Process.Pid)
	t.Logf("RSS after 10,000 requests: %d kB", rss)
	if rss > 4096 {
		t.Errorf("RSS %d kB exceeds the 4 MiB budget", rss)
	}
}

func rssKB(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no VmRSS")
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return n
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	a := start(t, "--listen", "127.0.0.1:0")
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		a.done <- err // for the cleanup
	case <-time.After(6 * time.Second):
		t.Fatal("agent still running 6s after SIGTERM")
	}
	if !strings.Contains(a.stderr.String(), "msg=stopped") {
		t.Errorf("no stop message:\n%s", a.stderr.String())
	}
}

func TestBadConfiguration(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--bogus"}, "", "unknown flag --bogus"},
		{[]string{"--interval", "1ms"}, "", "--interval 1ms is outside 100ms to 1h"},
		{nil, "GUEST_AGENT_INTERVAL=soon", `invalid value "soon" in GUEST_AGENT_INTERVAL`},
		{[]string{"--register-url", "http://10.0.2.2:8080"}, "", "registration needs both"},
		{[]string{"--register-url", "https://x", "--vm-id", "a"}, "", "https is not supported"},
		{[]string{"--register-url", "http://x", "--vm-id", "a/b"}, "", `vm id "a/b"`},
		{[]string{"--listen", "127.0.0.1:0", "--token-file", empty}, "", "is empty"},
		{[]string{"--listen", "127.0.0.1:99999"}, "", "99999"},
		{[]string{"--log-level", "loud"}, "", "--log-level"},
	}
	for _, tt := range tests {
		cmd := exec.Command(agentBin, tt.args...)
		if tt.env != "" {
			cmd.Env = []string{tt.env}
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v %s: exit %v, want 2\n%s", tt.args, tt.env, err, out)
			continue
		}
		if !strings.Contains(string(out), tt.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("%v %s: output %q, want one line containing %q", tt.args, tt.env, out, tt.want)
		}
	}
	out, err := exec.Command(agentBin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "guest-agent ") {
		t.Errorf("--version: %q %v", out, err)
	}
}

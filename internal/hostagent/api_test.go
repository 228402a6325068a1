package hostagent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/sysfixture"
)

// testAgent is a host agent served on 127.0.0.1:0, as bin/host-agent runs.
type testAgent struct {
	*Agent
	url   string
	token string
	stop  func() error // cancels the context and returns Serve's result
}

func startAgent(t *testing.T, edit func(*Config)) *testAgent {
	t.Helper()
	cfg := defaultConfig(t)
	cfg.Interval = 200 * time.Millisecond
	cfg.SysRoot = t.TempDir()
	cfg.AllowPaths = os.TempDir() // where the tests' FIFOs and sockets are
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	ta := &testAgent{Agent: a, url: "http://" + ln.Addr().String(), token: a.token}
	var stopped bool
	ta.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return within 5 s of cancel")
			return nil
		}
	}
	t.Cleanup(func() { ta.stop() })
	return ta
}

// call makes a request and decodes a JSON answer into out (when not nil).
func (ta *testAgent) call(t *testing.T, method, path, body string, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, ta.url+path, rd)
	if method == "POST" || method == "PUT" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ta.token != "" {
		req.Header.Set("Authorization", "Bearer "+ta.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 400 {
		var e map[string]string
		if err := json.Unmarshal(b, &e); err != nil || e["error"] == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: error body %q is not {\"error\": ...} JSON", method, path, b)
		}
	}
	return resp.StatusCode, string(b)
}

func mustStatus(t *testing.T, want, got int, body string) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d: %s", got, want, body)
	}
}

func TestAPIAttachStatsDetach(t *testing.T) {
	ta := startAgent(t, nil)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "metrics.fifo")
	sysfixture.NetStats(t, ta.cfg.SysRoot, "tap7", map[string]uint64{"tx_bytes": 4242})

	var info wire.VMInfo
	cfg := `{"id":"vm-1","pid":` + strconv.Itoa(os.Getpid()) + `,"metrics_fifo":"` + fifo + `","tap":"tap7"}`
	code, body := ta.call(t, "POST", "/v1/vms", cfg, &info)
	mustStatus(t, 201, code, body)
	if info.ID != "vm-1" || info.MetricsKind != "fifo" || !info.FIFOCreated || info.AttachedMs == 0 {
		t.Fatalf("attach answer %s", body)
	}
	// Attaching the same configuration again changes nothing.
	code, body = ta.call(t, "POST", "/v1/vms", cfg, nil)
	mustStatus(t, 200, code, body)

	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString(`{"utc_timestamp_ms":1000,"net_eth0":{"rx_bytes_count":100},"block_rootfs":{"write_bytes":10},"logger":{"missed_metrics_count":1}}` + "\n")
	w.WriteString(`{"utc_timestamp_ms":2000,"net_eth0":{"rx_bytes_count":300},"block_rootfs":{"write_bytes":30}}` + "\n")
	w.WriteString("junk\n")

	var st wire.VMStats
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body = ta.call(t, "GET", "/v1/vms/vm-1/stats", "", &st)
		mustStatus(t, 200, code, body)
		if st.Firecracker != nil && st.Firecracker.Lines == 2 && st.Firecracker.BadLines == 1 && st.Process != nil && st.Tap != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never complete: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := st.Network
	if n == nil || n.Source != "firecracker" || n.RxBytesTotal != 400 || n.RxBytesPerSec == nil || *n.RxBytesPerSec != 300 ||
		n.Interfaces["eth0"].RxBytesTotal != 400 {
		t.Errorf("network: %s", body)
	}
	if b := st.Block; b == nil || b.WriteBytesTotal != 40 || *b.WriteBytesPerSec != 30 || b.Drives["rootfs"].WriteBytesTotal != 40 {
		t.Errorf("block: %s", body)
	}
	if st.Firecracker.MissedMetricsCount != 1 || st.Firecracker.LastLineMs != 2000 {
		t.Errorf("firecracker: %s", body)
	}
	if st.Process.PID != os.Getpid() || st.Tap.RxBytesTotal != 4242 {
		t.Errorf("process/tap: %s", body)
	}

	// Updating the VM keeps the FIFO reader and its totals.
	code, body = ta.call(t, "POST", "/v1/vms", `{"id":"vm-1","metrics_fifo":"`+fifo+`"}`, &info)
	mustStatus(t, 200, code, body)
	st = wire.VMStats{}
	ta.call(t, "GET", "/v1/vms/vm-1/stats", "", &st)
	if st.Process != nil || st.Tap != nil || st.Firecracker.Lines != 2 {
		t.Errorf("after update: %+v", st)
	}

	var list []wire.VMInfo
	code, body = ta.call(t, "GET", "/v1/vms", "", &list)
	if code != 200 || len(list) != 1 || list[0].ID != "vm-1" || list[0].PID != 0 {
		t.Errorf("list: %d %s", code, body)
	}
	code, body = ta.call(t, "DELETE", "/v1/vms/vm-1", "", nil)
	mustStatus(t, 204, code, body)
	code, body = ta.call(t, "GET", "/v1/vms/vm-1/stats", "", nil)
	mustStatus(t, 404, code, body)
	code, body = ta.call(t, "DELETE", "/v1/vms/vm-1", "", nil)
	mustStatus(t, 404, code, body)
	if code, body = ta.call(t, "GET", "/v1/vms", "", nil); strings.TrimSpace(body) != "[]" {
		t.Errorf("list after detach: %d %s", code, body)
	}
}

func TestAPIProcessStats(t *testing.T) {
	ta := startAgent(t, nil)
	var st map[string]any
	code, body := ta.call(t, "GET", "/metrics/process-stats?pid="+strconv.Itoa(os.Getpid()), "", &st)
	mustStatus(t, 200, code, body)
	for _, k := range []string{"pid", "cpu_usage_percent", "vcpu_usage_percent", "memory_rss_kb", "threads", "uptime_seconds"} {
		if _, ok := st[k]; !ok {
			t.Errorf("field %s missing: %s", k, body)
		}
	}
	code, body = ta.call(t, "GET", "/metrics/process-stats?pid=1", "", nil)
	mustStatus(t, 200, code, body)
	for _, q := range []string{"", "?pid=", "?pid=abc", "?pid=-1", "?pid=0", "?pid=1.5", "?pid=+7", "?pid=99999999999", "?pid=1&pid=2", "?pid=%zz"} {
		code, body = ta.call(t, "GET", "/metrics/process-stats"+q, "", nil)
		if code != 400 {
			t.Errorf("%q: %d %s", q, code, body)
		}
	}
	code, body = ta.call(t, "GET", "/metrics/process-stats?pid=4194000", "", nil)
	if code != 404 || !strings.Contains(body, "no such process") {
		t.Errorf("dead pid: %d %s", code, body)
	}
}

func TestAPIBadRequests(t *testing.T) {
	ta := startAgent(t, func(c *Config) { c.MaxVMs = 1 })
	dir := t.TempDir()
	tests := []struct {
		name, body string
		status     int
		contains   string
	}{
		{"empty", ``, 400, "empty"},
		{"not JSON", `{"id":`, 400, "truncated"},
		{"syntax", `{"id" "x"}`, 400, "not valid JSON"},
		{"array", `[]`, 400, "must be a JSON object"},
		{"unknown field", `{"id":"a","pids":1}`, 400, `unknown field "pids"`},
		{"wrong type", `{"id":"a","pid":"12"}`, 400, `field "pid" must be a JSON number`},
		{"trailing data", `{"id":"a"} {}`, 400, "after the JSON object"},
		{"no id", `{"pid":1}`, 400, "id is required"},
		{"bad id", `{"id":"../x"}`, 400, "is not valid"},
		{"negative pid", `{"id":"a","pid":-3}`, 400, "out of range"},
		{"relative fifo", `{"id":"a","metrics_fifo":"m.fifo"}`, 400, "absolute path"},
		{"fifo in missing dir", `{"id":"a","metrics_fifo":"` + dir + `/no/m"}`, 400, "creating FIFO"},
		{"fifo is a directory", `{"id":"a","metrics_fifo":"` + dir + `"}`, 400, "is a directory"},
		{"long socket", `{"id":"a","api_socket":"/` + strings.Repeat("s", 200) + `"}`, 400, "Unix socket path"},
		{"bad tap", `{"id":"a","tap":"a/b"}`, 400, "not an interface name"},
		{"too large", `{"id":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ta.call(t, "POST", "/v1/vms", tt.body, nil)
			var e map[string]string
			json.Unmarshal([]byte(body), &e)
			if code != tt.status || !strings.Contains(e["error"], tt.contains) {
				t.Fatalf("%d %s; want %d containing %q", code, body, tt.status, tt.contains)
			}
		})
	}
	if _, list := ta.call(t, "GET", "/v1/vms", "", nil); strings.TrimSpace(list) != "[]" {
		t.Fatalf("failed attaches left state: %s", list)
	}
	// Content type, the VM limit, methods and unknown paths.
	req, _ := http.NewRequest("POST", ta.url+"/v1/vms", strings.NewReader(`{"id":"a"}`))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 415 {
		t.Errorf("text/plain body: %v %v", resp.StatusCode, err)
	}
	ta.expect(t, 201, "POST", "/v1/vms", `{"id":"a"}`)
	ta.expect(t, 409, "POST", "/v1/vms", `{"id":"b"}`)
	ta.expect(t, 405, "PUT", "/v1/vms/a", `{}`)
	ta.expect(t, 405, "POST", "/health", `{}`)
	ta.expect(t, 404, "GET", "/nope", "")
	ta.expect(t, 404, "GET", "/v1/vms/zzz", "")
}

// expect makes a request and fails the test unless it answers want.
func (ta *testAgent) expect(t *testing.T, want int, method, path, body string) {
	t.Helper()
	code, b := ta.call(t, method, path, body, nil)
	mustStatus(t, want, code, b)
}

package hostagent

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func TestAPIAuth(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600)
	ta := startAgent(t, func(c *Config) { c.TokenFile = tokenFile })
	get := func(path, auth string) int {
		req, _ := http.NewRequest("GET", ta.url+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/v1/vms", "/metrics", "/metrics/process-stats?pid=1", "/v1/vms/x/stats"} {
		for _, auth := range []string{"", "Bearer wrong", "tok-123", "Bearer tok-1234", "Bearer tok-123tok-123", "Basic tok-123"} {
			if code := get(path, auth); code != 401 {
				t.Errorf("%s with %q: %d, want 401", path, auth, code)
			}
		}
		// The scheme is case-insensitive (RFC 9110), as the manager and the
		// guest agent have it: one check for all three programs.
		for _, auth := range []string{"Bearer tok-123", "bearer tok-123", "BEARER tok-123"} {
			if code := get(path, auth); code == 401 {
				t.Errorf("%s with %q: 401", path, auth)
			}
		}
	}
	if code := get("/health", ""); code != 200 {
		t.Errorf("/health without token: %d", code)
	}
}

// TestShutdownWithIdleFIFO attaches VMs whose FIFOs no writer ever opens
// and a dead API socket; shutdown and detach must not wait on them.
func TestShutdownWithIdleFIFO(t *testing.T) {
	ta := startAgent(t, nil)
	dir := t.TempDir()
	for i := range 3 {
		id := "idle-" + strconv.Itoa(i)
		body := `{"id":"` + id + `","metrics_fifo":"` + filepath.Join(dir, id) + `","api_socket":"` + filepath.Join(dir, "none.sock") + `"}`
		ta.expect(t, 201, "POST", "/v1/vms", body)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	ta.expect(t, 204, "DELETE", "/v1/vms/idle-0", "")
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("detach and shutdown took %v", d)
	}
	if n := len(ta.Host().VMs()); n != 0 {
		t.Fatalf("%d VMs still attached after shutdown", n)
	}
}

// TestFlushThroughAgent attaches a VM with a stand-in Firecracker API that
// answers FlushMetrics by writing a line to the FIFO, as Firecracker does.
func TestFlushThroughAgent(t *testing.T) {
	ta := startAgent(t, nil)
	dir := t.TempDir()
	fifo, sock := filepath.Join(dir, "m.fifo"), filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var ms int64
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "PUT" || r.URL.Path != "/actions" || !bytes.Equal(body, []byte(`{"action_type":"FlushMetrics"}`)) {
			w.WriteHeader(400)
			return
		}
		f, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err == nil {
			ms += 1000
			f.WriteString(`{"utc_timestamp_ms":` + strconv.FormatInt(ms, 10) + `,"net":{"tx_bytes_count":10}}` + "\n")
			f.Close()
		}
		w.WriteHeader(204)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	body := `{"id":"fc","metrics_fifo":"` + fifo + `","api_socket":"` + sock + `"}`
	ta.expect(t, 201, "POST", "/v1/vms", body)
	var st wire.VMStats
	deadline := time.Now().Add(5 * time.Second)
	for st.Firecracker == nil || st.Firecracker.Lines < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no flushed lines: %+v", st.Firecracker)
		}
		time.Sleep(50 * time.Millisecond)
		ta.call(t, "GET", "/v1/vms/fc/stats", "", &st)
	}
	if f := st.Firecracker.Flush; f == nil || f.Requests < 3 || f.Failures != 0 || st.Errors["api_socket"] != "" {
		t.Fatalf("flush status %+v errors %v", f, st.Errors)
	}
	if st.Network.TxBytesTotal != 10*st.Firecracker.Lines || *st.Network.TxBytesPerSec != 10 {
		t.Fatalf("network %+v", st.Network)
	}
}

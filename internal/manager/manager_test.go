package manager

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// fakeGuest answers /metrics like a guest agent.
func fakeGuest(t *testing.T) (ip string, port int) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"cpu_usage_percent":12.5,"memory_usage_percent":50,"memory_used_kb":1000,`+
			`"memory_total_kb":2000,"memory_available_kb":1000,"uptime_seconds":60}`)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// TestServeWiring runs the manager in process over SQLite: a registered VM
// is polled, its samples reach the API, /metrics and the history, and a
// clean shutdown writes the partial minute's rollup.
func TestServeWiring(t *testing.T) {
	var cfg Config
	fs := cli.New("manager", "MANAGER_", "")
	cfg.Flags(fs)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--poll-interval", "100ms", "--guest-allow-cidrs", "127.0.0.0/8"}
	if err := fs.Parse(args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := m.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, st, ln) }()
	base := "http://" + ln.Addr().String()

	ip, port := fakeGuest(t)
	body, _ := json.Marshal(map[string]any{"name": "wired", "guest_ip": ip, "guest_port": port})
	resp, err := http.Post(base+"/v1/vms", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var vm wire.VM
	json.NewDecoder(resp.Body).Decode(&vm)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		var s wire.CombinedSample
		getJSON(t, base+"/v1/vms/"+vm.ID+"/metrics", &s)
		if s.Source == wire.SourceGuest && s.CPUUsagePercent != nil && *s.CPUUsagePercent == 12.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no guest sample within 5s; latest %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if text := getText(t, base+"/metrics"); !strings.Contains(text, `vm_id="`+vm.ID+`"`) {
		t.Errorf("/metrics lacks the VM:\n%s", text)
	}
	var h wire.History
	getJSON(t, base+"/v1/vms/"+vm.ID+"/metrics/history", &h)
	if len(h.Points) == 0 {
		t.Errorf("history %+v", h)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of cancellation")
	}
	rollups, err := st.Rollups(context.Background(), vm.ID, 0, time.Now().Add(time.Minute).UnixMilli())
	if err != nil || len(rollups) == 0 || rollups[0].Source != wire.SourceGuest {
		t.Errorf("rollups after shutdown: %+v, %v", rollups, err)
	}
	if _, err := filepath.Glob(filepath.Join(dir, "fcmon.db")); err != nil {
		t.Error(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// TestCountingStore: rollups the history writes are counted, failed
// batches are not.
func TestCountingStore(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vm, err := st.CreateVM(context.Background(), store.VM{ID: "00000000-0000-4000-8000-000000000001", Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var written int
	cs := countingStore{st, func(n int) { written += n }}
	r := store.Rollup{VMID: vm.ID, MinuteMs: 60000, Samples: 1, Source: wire.SourceGuest, SourceSamples: 1,
		MemorySource: wire.SourceGuest, MemorySourceSamples: 1}
	if err := cs.UpsertRollups(context.Background(), []store.Rollup{r, {VMID: vm.ID, MinuteMs: 120000, Source: wire.SourceNone, MemorySource: wire.SourceNone}}); err != nil {
		t.Fatal(err)
	}
	r.VMID = "unknown"
	if err := cs.UpsertRollups(context.Background(), []store.Rollup{r}); err == nil {
		t.Error("rollup of an unknown VM stored")
	}
	if written != 2 {
		t.Errorf("counted %d rollups, want 2", written)
	}
}

package prometheus

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/poll"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/procfixture"
	"github.com/fcmon/fcmon/internal/testsupport/promtool"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestPrometheusDiscoversAndServesHistory: a real Prometheus server finds
// a host agent and a directly polled guest through the manager's
// GET /v1/prometheus/sd and scrapes them; the manager, started with
// --history-url pointing at it, answers history beyond its live window
// from PromQL, and the figures match what the manager itself collected
// from the same agents over the same minute.
//
// The host agent reads two Firecracker stand-ins, each with a real guest
// agent over an animated /proc behind its vsock muxer.
func TestPrometheusDiscoversAndServesHistory(t *testing.T) {
	prom := promtool.Bin(t, "prometheus")
	guestBin, hostBin, managerBin, fcBin := buildAll(t)

	scope := t.TempDir()
	for _, id := range []string{"fc-a", "fc-b"} {
		root := procfixture.Copy(t)
		procfixture.Animate(t, root)
		g := testprog.Start(t, guestBin, root, nil, testprog.GuestServing, "--listen", "127.0.0.1:0",
			"--procfs", filepath.Join(root, "proc"), "--sysfs", filepath.Join(root, "sys"), "--interval", "250ms")
		fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fcBin, Dir: filepath.Join(scope, id), ID: id, Guest: g.Addr})
	}
	host := testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0",
		"--interval", "1s", "--discover-scope", scope, "--allow-paths", scope, "--guest-allow-cidrs", "127.0.0.0/8")
	direct := procfixture.Copy(t)
	procfixture.Animate(t, direct)
	guest := testprog.Start(t, guestBin, direct, nil, testprog.GuestServing, "--listen", "127.0.0.1:0",
		"--procfs", filepath.Join(direct, "proc"), "--sysfs", filepath.Join(direct, "sys"), "--interval", "250ms")

	promAddr := freeAddr(t)
	mgr := testprog.Start(t, managerBin, t.TempDir(), []string{"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")},
		testprog.ManagerServing, "--listen", "127.0.0.1:0", "--poll-interval", "1s", "--guest-allow-cidrs", "127.0.0.0/8",
		"--host-agents", "http://"+host.Addr, "--history-url", "http://"+promAddr)
	gip, gport, _ := net.SplitHostPort(guest.Addr)
	port, _ := strconv.Atoi(gport)
	post(t, "http://"+mgr.Addr+"/v1/vms", map[string]any{"name": "direct-1", "guest_ip": gip, "guest_port": port})

	startPrometheus(t, prom, promAddr, "http://"+mgr.Addr+"/v1/prometheus/sd")
	began := time.Now()

	// Discovery: the host agent and the direct guest, both up.
	var up map[string]string
	poll.Until(t, 30*time.Second, "Prometheus scraping both targets", func() bool {
		up = map[string]string{}
		for _, r := range promQuery(t, promAddr, `up`) {
			up[r.Metric["fcmon_role"]] = r.Value[1].(string)
		}
		return up["host_agent"] == "1" && up["guest_agent"] == "1"
	})
	t.Logf("both targets up %v after Prometheus started", time.Since(began).Round(time.Millisecond))
	vms := listVMs(t, mgr.Addr)
	if len(vms) != 3 {
		t.Fatalf("manager lists %d VMs, want fc-a, fc-b and direct-1: %+v", len(vms), vms)
	}
	for _, vm := range vms {
		sel := fmt.Sprintf(`node_memory_MemTotal_bytes{vm_id=%q}`, vm.ID)
		if vm.HostID != "" {
			sel = fmt.Sprintf(`node_memory_MemTotal_bytes{host=%q,vm_id=%q}`, vm.HostID, vm.HostVMID)
		}
		if r := promQuery(t, promAddr, sel); len(r) != 1 {
			t.Errorf("%s: %s gives %d series in Prometheus, want 1", vm.Name, sel, len(r))
		}
	}

	// History: wait for a minute boundary with a full minute of scrapes
	// behind it, then ask the manager for the range from before it
	// started (beyond its live window, so from Prometheus).
	boundary := time.Now().Truncate(time.Minute).Add(time.Minute)
	if boundary.Sub(began) < 30*time.Second {
		boundary = boundary.Add(time.Minute)
	}
	time.Sleep(time.Until(boundary) + 3*time.Second)
	for _, vm := range vms {
		since := began.Add(-2 * time.Minute).UnixMilli()
		var h wire.History
		getJSON(t, fmt.Sprintf("http://%s/v1/vms/%s/metrics/history?since=%d&until=%d&step=60000", mgr.Addr, vm.ID, since, time.Now().UnixMilli()), &h)
		if h.Resolution != wire.ResolutionTSDB {
			t.Fatalf("%s: resolution %q, want %q", vm.Name, h.Resolution, wire.ResolutionTSDB)
		}
		var p *wire.HistoryPoint
		for i := range h.Points {
			if h.Points[i].TimestampMs == boundary.UnixMilli() {
				p = &h.Points[i]
			}
		}
		if p == nil {
			t.Fatalf("%s: no point at %v in %+v", vm.Name, boundary, h.Points)
		}
		// The manager's own samples of that minute, from its live window.
		var raw wire.History
		from := boundary.Add(-time.Minute)
		if from.Before(began) { // within the manager's live window
			from = began
		}
		getJSON(t, fmt.Sprintf("http://%s/v1/vms/%s/metrics/history?since=%d&until=%d", mgr.Addr, vm.ID,
			from.UnixMilli(), boundary.UnixMilli()), &raw)
		if raw.Resolution != wire.ResolutionRaw {
			t.Fatalf("%s: the manager's minute has resolution %q", vm.Name, raw.Resolution)
		}
		cpu, used, n := 0.0, 0.0, 0
		for _, s := range raw.Points {
			if s.CPUUsagePercent != nil && s.MemoryUsedKB != nil && s.Source == wire.SourceGuest {
				cpu, used, n = cpu+*s.CPUUsagePercent, used+*s.MemoryUsedKB, n+1
			}
		}
		if n < 25 {
			t.Fatalf("%s: %d guest samples in the manager's minute", vm.Name, n)
		}
		cpu, used = cpu/float64(n), used/float64(n)
		t.Logf("%s: Prometheus CPU %.1f %% (%s), used %.0f KiB of %.0f (%s); the manager's minute: CPU %.1f %%, used %.0f KiB over %d samples",
			vm.Name, *p.CPUUsagePercent, p.Source, *p.MemoryUsedKB, *p.MemoryTotalKB, p.MemorySource, cpu, used, n)
		if p.Source != wire.SourceGuest || p.MemorySource != wire.SourceGuest {
			t.Errorf("%s: sources %s/%s, want guest", vm.Name, p.Source, p.MemorySource)
		}
		if d := *p.CPUUsagePercent - cpu; d < -5 || d > 5 {
			t.Errorf("%s: CPU %.1f from Prometheus, %.1f from the manager", vm.Name, *p.CPUUsagePercent, cpu)
		}
		if r := *p.MemoryUsedKB / used; r < 0.9 || r > 1.1 {
			t.Errorf("%s: used memory %.0f KiB from Prometheus, %.0f from the manager", vm.Name, *p.MemoryUsedKB, used)
		}
		if want := 24684092.0; *p.MemoryTotalKB != want { // the fixture's MemTotal
			t.Errorf("%s: memory total %.0f KiB, want the guest's %v", vm.Name, *p.MemoryTotalKB, want)
		}
		if vm.HostID != "" && (p.NetRxBytesPerSec == nil || p.DiskReadBytesPerSec == nil) {
			t.Errorf("%s: no network or disk rates from Firecracker's counters: %+v", vm.Name, p)
		}
	}
}

// startPrometheus runs Prometheus on addr, scraping every second what sd
// lists, with its data in a temporary directory.
func startPrometheus(t *testing.T, bin, addr, sd string) {
	t.Helper()
	startPrometheusWith(t, bin, addr, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fcmon
    http_sd_configs:
      - url: %s
        refresh_interval: 1s
`, sd))
}

type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

func promQuery(t *testing.T, addr, q string) []promResult {
	t.Helper()
	var out struct {
		Status string `json:"status"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	getJSON(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q), &out)
	return out.Data.Result
}

func listVMs(t *testing.T, addr string) []wire.VM {
	var vms []wire.VM
	getJSON(t, "http://"+addr+"/v1/vms", &vms)
	return vms
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

func post(t *testing.T, u string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(u, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 201 {
		msg, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %s %s", u, res.Status, msg)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// buildAll builds the three programs and the Firecracker stand-in for one
// test: guest agent, host agent, manager, stand-in.
func buildAll(t *testing.T) (guest, host, manager, firecracker string) {
	t.Helper()
	dir := t.TempDir()
	bins, err := testbuild.Programs(dir, "guest-agent", "host-agent", "manager")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := testbuild.Firecracker(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bins[0], bins[1], bins[2], fc
}

package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/procfixture"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// fleetVMs is how many simulated VMs TestBrowserFleet registers:
// FCMON_UI_FLEET_VMS (make bench sets 100000), else 10,000.
func fleetVMs(t *testing.T) int {
	if s := os.Getenv("FCMON_UI_FLEET_VMS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 200_000 || n%100 != 0 {
			t.Fatalf("FCMON_UI_FLEET_VMS=%q: expected a multiple of 100 from 100 to 200000", s)
		}
		return n
	}
	return 10_000
}

// TestBrowserFleet runs fleet.test.mjs against a manager collecting a
// fleet: simulated host agents of 100 VMs each (test/bench/fleet -mix:
// some VMs on the vCPU/balloon or the VMM fallback) and one real guest
// agent, "real-1", which the Node test stops through the control server
// to make a real event.
func TestBrowserFleet(t *testing.T) {
	if skip != "" {
		t.Skip(skip)
	}
	n := fleetVMs(t)
	hosts := n / 100
	fleetBin, err := testbuild.Build(t.TempDir(), "./test/bench/fleet", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	const port = 18571
	testprog.Start(t, fleetBin, t.TempDir(), nil, regexp.MustCompile(`ready (\d+) hosts`),
		"-first", "127.31.0.1", "-n", strconv.Itoa(hosts), "-per-host", "100", "-port", strconv.Itoa(port), "-mix", "-max", "15m")
	urls := make([]string, hosts)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://127.31.%d.%d:%d", (1+i)/256, (1+i)%256, port)
	}
	m := startManager(t, "--poll-interval", "1s", "--host-agents", strings.Join(urls, ","))

	ctl := &control{t: t, proc: procfixture.Copy(t)}
	procfixture.Animate(t, ctl.proc)
	ctl.guest = startGuestAgent(t, ctl.proc)
	ip, gport := testprog.SplitAddr(t, ctl.guest.Addr)
	register(t, m.Addr, "", map[string]any{"name": "real-1", "guest_ip": ip, "guest_port": gport})

	began := time.Now()
	waitFleet(t, m.Addr, n, max(90*time.Second, time.Duration(n/1000)*2*time.Second))
	t.Logf("%d VMs of %d host agents live %v after the manager started", n, hosts, time.Since(began).Round(time.Millisecond))

	srv := httptest.NewServer(ctl)
	defer srv.Close()
	runNode(t, map[string]string{
		"FCMON_UI_URL":         "http://" + m.Addr + "/",
		"FCMON_UI_FLEET_VMS":   strconv.Itoa(n),
		"FCMON_UI_CONTROL":     srv.URL,
		"FCMON_UI_ARTIFACTS":   artifactsDir(t, "ui-fleet"),
		"FCMON_UI_DOCS":        docsDir(t),
		"FCMON_UI_PROFILE_DIR": t.TempDir(),
		"FCMON_UI_REPORT":      os.Getenv("FCMON_UI_REPORT"),
	}, "fleet.test.mjs")
}

// waitFleet waits until the manager has n VMs of host agents live, and
// real-1's first sample.
func waitFleet(t *testing.T, addr string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var f wire.Fleet
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + addr + "/v1/fleet")
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&f)
			res.Body.Close()
		}
		if err == nil && f.ByState[wire.StateLive] == n+1 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("after %v: %d VMs, by state %v; want %d live", within, f.VMs, f.ByState, n+1)
}

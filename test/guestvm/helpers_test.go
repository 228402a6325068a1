package guestvm

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// sample is the part of the agent's /metrics JSON (docs/api.md) these tests check.
type sample struct {
	CPUUsagePercent float64 `json:"cpu_usage_percent"`
	MemoryUsedKB    int64   `json:"memory_used_kb"`
	MemoryTotalKB   int64   `json:"memory_total_kb"`
	UptimeSeconds   float64 `json:"uptime_seconds"`
	TimestampMs     int64   `json:"timestamp_ms"`
	IntervalMs      int64   `json:"interval_ms"`
	BootID          string  `json:"boot_id"`
	Network         []struct {
		Interface string `json:"interface"`
		RxBytes   int64  `json:"rx_bytes"`
	} `json:"network"`
	Disks []struct {
		Device     string `json:"device"`
		WriteBytes int64  `json:"write_bytes"`
	} `json:"disks"`
}

// rxBytes returns the received bytes of interface name, or -1 when it is not listed.
func (s sample) rxBytes(name string) int64 {
	for _, n := range s.Network {
		if n.Interface == name {
			return n.RxBytes
		}
	}
	return -1
}

// writeBytes returns the bytes written to disk device, or -1 when it is not listed.
func (s sample) writeBytes(device string) int64 {
	for _, d := range s.Disks {
		if d.Device == device {
			return d.WriteBytes
		}
	}
	return -1
}

// sampleInterval is the --interval every agent in these tests runs with.
const sampleInterval = time.Second

// bootAgent boots a guest running bin/guest-agent (started by /init with cfg.AgentArgs,
// the harness default when empty) and waits until the agent answers /health.
func bootAgent(t *testing.T, cfg vmtest.Config) *vmtest.VM {
	t.Helper()
	cfg.Agent = vmtest.GuestAgent(t)
	cfg.StartAgent = true
	vm := vmtest.Boot(t, cfg)
	if err := vm.WaitAgent(context.Background()); err != nil {
		t.Fatal(err)
	}
	return vm
}

// metrics fetches and decodes /metrics.
func metrics(t *testing.T, vm *vmtest.VM) sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	body, err := vm.Get(ctx, "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	var s sample
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decoding /metrics: %v\n%s", err, body)
	}
	return s
}

// sampleAfter returns a sample read entirely after the call began: it waits until the
// agent has published n samples newer than the one current at the call. With n = 2 the
// window of the returned sample starts after the call too, so a test calls it right
// after the guest command whose effect it wants to see. Agents that do not report
// timestamp_ms are given n+1 intervals of wall time instead.
func sampleAfter(t *testing.T, vm *vmtest.VM, n int) sample {
	t.Helper()
	s := metrics(t, vm)
	for i := 0; i < n; i++ {
		s = nextSample(t, vm, s)
	}
	return s
}

// nextSample waits for a sample newer than prev, for at most ten intervals.
func nextSample(t *testing.T, vm *vmtest.VM, prev sample) sample {
	t.Helper()
	if prev.TimestampMs == 0 {
		time.Sleep(sampleInterval + sampleInterval/10)
		return metrics(t, vm)
	}
	deadline := time.Now().Add(10 * sampleInterval)
	for {
		s := metrics(t, vm)
		if s.TimestampMs > prev.TimestampMs {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent took no new sample in %v: timestamp_ms stuck at %d", 10*sampleInterval, s.TimestampMs)
		}
		time.Sleep(sampleInterval / 10)
	}
}

// guestInt runs cmd in the guest and parses its output as one integer.
func guestInt(t *testing.T, vm *vmtest.VM, cmd string) int64 {
	t.Helper()
	out := strings.TrimSpace(vm.MustRun(cmd))
	v, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		t.Fatalf("guest command %q printed %q, want an integer", cmd, out)
	}
	return v
}

// hostServer serves h on 127.0.0.1 (which the guest reaches as 10.0.2.2) and returns
// the port.
func hostServer(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return p
}

// shortDir makes a directory under the system's temporary one, removed
// when the test ends: short, as Unix socket paths must be.
func shortDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// standInGuest boots a QEMU guest behind a Firecracker stand-in with
// Firecracker id id, its sockets in dir, and waits for its guest agent;
// the guest stops when the test ends.
func standInGuest(ctx context.Context, t *testing.T, id, dir string, cpus, memoryMiB int) *fcstandin.QEMUVM {
	t.Helper()
	q, err := fcstandin.LaunchQEMU(ctx, fcstandin.QEMUOptions{ID: id, Dir: dir, WorkDir: t.TempDir(),
		Guest: vmtest.Config{Agent: vmtest.GuestAgent(t), StartAgent: true, CPUs: cpus, MemoryMiB: memoryMiB}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop() })
	if err := q.Guest.WaitAgent(ctx); err != nil {
		t.Fatal(err)
	}
	return q
}

package guestvm

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestGuestView checks, in one guest, that memory, disk, network, uptime and boot id in
// /metrics are the guest's own figures and not the host's.
func TestGuestView(t *testing.T) {
	t.Parallel()
	vm := bootAgent(t, vmtest.Config{MemoryMiB: 256, DiskMiB: 32})

	t.Run("memory_total_kb", func(t *testing.T) {
		guest := guestInt(t, vm, "awk '/^MemTotal:/ {print $2}' /proc/meminfo")
		got := metrics(t, vm).MemoryTotalKB
		if got != guest {
			t.Errorf("memory_total_kb = %d, guest MemTotal = %d kB", got, guest)
		}
		if host := hostMeminfo(t, "MemTotal"); got == host {
			t.Errorf("memory_total_kb = %d equals the host's MemTotal", got)
		}
	})

	t.Run("memory_used_kb/tmpfs", func(t *testing.T) {
		vm.MustRun("mkdir -p /tmpfsdir && mount -t tmpfs -o size=100m tmpfs /tmpfsdir")
		before := sampleAfter(t, vm, 2)
		vm.MustRun("dd if=/dev/zero of=/tmpfsdir/x bs=1M count=64 2>/dev/null")
		after := sampleAfter(t, vm, 2)
		vm.MustRun("rm /tmpfsdir/x")
		const want = 64 << 10 // kB
		if d := after.MemoryUsedKB - before.MemoryUsedKB; math.Abs(float64(d-want)) > 0.10*want {
			t.Errorf("memory_used_kb rose by %d kB after 64 MiB into tmpfs, want %d kB ± 10%%", d, want)
		}
	})

	t.Run("disks/vda", func(t *testing.T) {
		before := metrics(t, vm)
		if before.writeBytes("vda") < 0 {
			t.Fatalf("disks lists no vda: %+v", before.Disks)
		}
		vm.MustRun("dd if=/dev/zero of=/dev/vda bs=1M count=16 conv=fsync 2>/dev/null")
		after := sampleAfter(t, vm, 2)
		const want = 16 << 20
		if d := after.writeBytes("vda") - before.writeBytes("vda"); d < want {
			t.Errorf("vda write_bytes grew by %d after writing %d bytes with dd", d, want)
		}
	})

	t.Run("network/eth0", func(t *testing.T) {
		const size = 4 << 20
		payload := bytes.Repeat([]byte("fcmon-guest-vm-test\n"), size/20)
		port := hostServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(payload)
		}))
		before := metrics(t, vm)
		if before.rxBytes("eth0") < 0 {
			t.Fatalf("network lists no eth0: %+v", before.Network)
		}
		got := guestInt(t, vm, fmt.Sprintf("wget -q -O - http://%s:%d/blob | wc -c", vmtest.HostIP, port))
		if got != int64(len(payload)) {
			t.Fatalf("guest downloaded %d bytes from the host, want %d", got, len(payload))
		}
		after := sampleAfter(t, vm, 2)
		if d := after.rxBytes("eth0") - before.rxBytes("eth0"); d < int64(len(payload)) {
			t.Errorf("eth0 rx_bytes grew by %d after a %d-byte download", d, len(payload))
		}
	})

	t.Run("uptime_seconds", func(t *testing.T) {
		s := metrics(t, vm)
		guest := guestUptime(t, vm)
		// The sample is at most one interval old, and the console round trip is slow.
		if d := guest - s.UptimeSeconds; d < -1.5 || d > 4 {
			t.Errorf("uptime_seconds = %v, guest /proc/uptime = %.2f", s.UptimeSeconds, guest)
		}
		if host := hostUptime(t); math.Abs(host-s.UptimeSeconds) < 30 {
			t.Errorf("uptime_seconds = %v is within 30 s of the host's %.0f s", s.UptimeSeconds, host)
		}
	})

	t.Run("boot_id", func(t *testing.T) {
		guest := strings.TrimSpace(vm.MustRun("cat /proc/sys/kernel/random/boot_id"))
		got := metrics(t, vm).BootID
		if got != guest {
			t.Errorf("boot_id = %q, guest boot_id = %q", got, guest)
		}
		host, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err == nil && got == strings.TrimSpace(string(host)) {
			t.Errorf("boot_id = %q is the host's", got)
		}
	})
}

func guestUptime(t *testing.T, vm *vmtest.VM) float64 {
	t.Helper()
	out := vm.MustRun("cat /proc/uptime")
	return parseUptime(t, out)
}

func hostUptime(t *testing.T) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	return parseUptime(t, string(data))
}

func parseUptime(t *testing.T, s string) float64 {
	t.Helper()
	fields := strings.Fields(s)
	if len(fields) == 0 {
		t.Fatalf("/proc/uptime = %q", s)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		t.Fatalf("/proc/uptime = %q: %v", s, err)
	}
	return v
}

// hostMeminfo returns field (in kB) from the host's /proc/meminfo.
func hostMeminfo(t *testing.T, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == field+":" {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("host meminfo %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("host /proc/meminfo has no %s", field)
	return 0
}

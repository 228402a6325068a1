package hostagent

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// TestVMMFigures: the groups of Firecracker's lines about the VMM and its
// devices' limits — vCPU exits, vsock, rate-limiter throttling, tap
// errors, a vhost-user drive, a fatal signal — reach GET /v1/vms/{id}/stats
// and /metrics, from a stand-in writing lines as Firecracker does.
func TestVMMFigures(t *testing.T) {
	ta := startAgent(t, nil)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "metrics.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ta.expect(t, 201, "POST", "/v1/vms", `{"id":"vm-v","metrics_fifo":"`+fifo+`"}`)
	sock, rootfs := filepath.Join(dir, "vhost.sock"), filepath.Join(dir, "rootfs.ext4")
	if err := os.WriteFile(rootfs, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	counters := fcstandin.Counters{
		Net:   map[string]fcstandin.NetCounters{"eth0": {RxBytes: 10, Extra: map[string]uint64{"rx_rate_limiter_throttled": 3, "tx_rate_limiter_throttled": 4, "tap_read_fails": 1, "tap_write_fails": 2}}},
		Block: map[string]fcstandin.BlockCounters{"rootfs": {ReadBytes: 512, Extra: map[string]uint64{"rate_limiter_throttled_events": 6, "io_engine_throttled_events": 7}}},
		Groups: map[string]map[string]uint64{
			"vcpu":                   {"exit_io_in": 100, "exit_mmio_write": 40, "failures": 1, "exit_io_in_agg.sum_us": 2_500_000, "exit_io_in_agg.max_us": 900},
			"vsock":                  {"conns_added": 5, "conns_killed": 1, "conns_removed": 3, "rx_bytes_count": 1000, "tx_bytes_count": 2000, "tx_write_fails": 2},
			"signals":                {"sigsegv": 1, "sigpipe": 2},
			"vhost_user_block_cache": {"activate_fails": 1, "init_time_us": 1500},
		},
	}
	vm, err := fcstandin.Start(fcstandin.Config{ID: "vm-v", Metrics: &fcstandin.Metrics{MetricsPath: fifo},
		Drives:  []fcstandin.Drive{{DriveID: "rootfs", PathOnHost: &rootfs}, {DriveID: "cache", Socket: &sock}},
		Network: []fcstandin.NetworkInterface{{IfaceID: "eth0", HostDevName: "tap0"}}},
		fcstandin.Options{APISock: filepath.Join(dir, "api.sock"), Running: true, MetricsPeriod: 100 * time.Millisecond,
			Sources: fcstandin.Sources{Counters: func() fcstandin.Counters { return counters }}})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()

	var st wire.VMStats
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(ta.url + "/v1/vms/vm-v/stats")
		if err != nil {
			t.Fatal(err)
		}
		st = wire.VMStats{}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Firecracker != nil && st.Firecracker.Lines >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lines: %+v", st.Firecracker)
		}
		time.Sleep(50 * time.Millisecond)
	}
	v := st.Firecracker.VMM
	if v == nil || v.VCPUExits["io_in"] != 100 || v.VCPUExits["mmio_write"] != 40 || v.VCPUExitMicros["io_in"] != 2_500_000 || v.VCPUFailures != 1 {
		t.Fatalf("vcpu figures %+v", v)
	}
	if v.Vsock == nil || *v.Vsock != (wire.VsockFigures{ConnsAdded: 5, ConnsKilled: 1, ConnsRemoved: 3, RxBytesTotal: 1000, TxBytesTotal: 2000, ErrorsTotal: 2}) {
		t.Errorf("vsock %+v", v.Vsock)
	}
	if v.SigpipeTotal != 2 || v.FatalField != "signals.sigsegv" || v.Fatal == "" {
		t.Errorf("signals: sigpipe %d, fatal %q (%s)", v.SigpipeTotal, v.Fatal, v.FatalField)
	}
	if d := v.VhostUser["block_cache"]; d.ActivateFails != 1 || d.InitMicros != 1500 {
		t.Errorf("vhost-user drive %+v", v.VhostUser)
	}
	if i := st.Network.Interfaces["eth0"]; i.RxThrottledTotal != 3 || i.TxThrottledTotal != 4 || i.TapErrorsTotal != 3 {
		t.Errorf("eth0 %+v", i)
	}
	if d := st.Block.Drives["rootfs"]; d.ThrottledTotal != 6 || d.EngineThrottledTotal != 7 {
		t.Errorf("rootfs %+v", d)
	}

	value, _ := scrape(t, ta.url)
	id := map[string]string{"vm_id": "vm-v"}
	with := func(k, v string, more ...string) map[string]string {
		m := map[string]string{"vm_id": "vm-v", k: v}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"host_agent_firecracker_vcpu_exits_total", with("kind", "io_in"), 100},
		{"host_agent_firecracker_vcpu_exit_seconds_total", with("kind", "io_in"), 2.5},
		{"host_agent_firecracker_vcpu_failures_total", id, 1},
		{"host_agent_firecracker_vsock_connections_total", with("event", "added"), 5},
		{"host_agent_firecracker_vsock_receive_bytes_total", id, 1000},
		{"host_agent_firecracker_vsock_errors_total", id, 2},
		{"host_agent_firecracker_sigpipe_total", id, 2},
		{"host_agent_firecracker_fatal", with("field", "signals.sigsegv"), 1},
		{"host_agent_network_throttled_total", with("interface", "eth0", "direction", "tx"), 4},
		{"host_agent_network_tap_errors_total", with("interface", "eth0"), 3},
		{"host_agent_block_throttled_total", with("drive", "rootfs", "by", "io_engine"), 7},
		{"host_agent_firecracker_vhost_user_activate_fails_total", with("device", "block_cache"), 1},
		{"host_agent_firecracker_vhost_user_init_seconds", with("device", "block_cache"), 0.0015},
	} {
		if got, ok := value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}

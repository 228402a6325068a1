package hostagent

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/sysfixture"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestPrometheusMetrics(t *testing.T) {
	ta := startAgent(t, nil)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "m")
	sysfixture.NetStats(t, ta.cfg.SysRoot, "tap0", map[string]uint64{"tx_bytes": 77})
	ta.expect(t, 201, "POST", "/v1/vms", `{"id":"vm-a","pid":`+strconv.Itoa(os.Getpid())+`,"metrics_fifo":"`+fifo+`","tap":"tap0"}`)
	ta.expect(t, 201, "POST", "/v1/vms", `{"id":"vm-b","pid":4194000}`)
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString(`{"utc_timestamp_ms":5000,"net_eth0":{"rx_bytes_count":123},"block_vda":{"read_bytes":9}}` + "\n")
	time.Sleep(300 * time.Millisecond)

	value, fams := scrape(t, ta.url)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"host_agent_vms_attached", nil, 2},
		{"host_agent_process_up", map[string]string{"vm_id": "vm-a"}, 1},
		{"host_agent_process_up", map[string]string{"vm_id": "vm-b"}, 0},
		{"host_agent_network_receive_bytes_total", map[string]string{"vm_id": "vm-a", "interface": "eth0"}, 123},
		{"host_agent_block_read_bytes_total", map[string]string{"vm_id": "vm-a", "drive": "vda"}, 9},
		{"host_agent_firecracker_lines_total", map[string]string{"vm_id": "vm-a"}, 1},
		{"host_agent_firecracker_last_line_timestamp_seconds", map[string]string{"vm_id": "vm-a"}, 5},
		{"host_agent_tap_receive_bytes_total", map[string]string{"vm_id": "vm-a", "device": "tap0"}, 77},
	}
	for _, c := range checks {
		if got, ok := value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value("host_agent_cpu_seconds_total", map[string]string{"vm_id": "vm-a"}); !ok {
		t.Error("no host_agent_cpu_seconds_total for vm-a")
	}
	if _, ok := value("host_agent_cpu_seconds_total", map[string]string{"vm_id": "vm-b"}); ok {
		t.Error("a dead VMM exports CPU figures")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics of the agent itself")
	}
}

// scrape reads the agent's /metrics with Prometheus's own parser and
// returns a lookup of one series' value by name and some of its labels.
func scrape(t *testing.T, url string) (func(name string, labels map[string]string) (float64, bool), map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("Prometheus's parser rejects the output: %v", err)
	}
	return func(name string, labels map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}, fams
}

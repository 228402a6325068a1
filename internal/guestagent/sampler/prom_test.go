package sampler

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/testsupport/promparse"
	dto "github.com/prometheus/client_model/go"
)

// TestPromParses renders samples of the real /proc of this machine, of a
// captured tree and of the hand-written one, and checks them with
// Prometheus's parser and against node_exporter's names.
func TestPromParses(t *testing.T) {
	tr := newTree(t)
	roots := map[string][2]string{
		"this machine": {"/proc", "/sys"},
		"linux-6.18":   {"../procfs/testdata/linux-6.18/proc", "../procfs/testdata/linux-6.18/sys"},
		"written":      {filepath.Join(tr.dir, "proc"), filepath.Join(tr.dir, "sys")},
	}
	for name, r := range roots {
		t.Run(name, func(t *testing.T) {
			s := New(Options{FS: procfs.NewFS(r[0], r[1]), Version: "v1.2.3"})
			s.Sample()
			snap := s.Sample()
			families, err := promparse.Parse(snap.Prom)
			if err != nil {
				t.Fatalf("Prometheus's parser: %v\n%s", err, snap.Prom)
			}
			for _, want := range []string{"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes",
				"node_load1", "node_boot_time_seconds", "node_network_receive_bytes_total", "node_disk_read_bytes_total",
				"node_filesystem_size_bytes", "node_time_seconds", "guest_agent_build_info", "guest_agent_cpu_usage_percent"} {
				if families[want] == nil {
					t.Errorf("family %s missing", want)
				}
			}
			m := snap.Metrics
			if got := gauge(families, "node_memory_MemTotal_bytes"); got != float64(m.MemoryTotalKB)*1024 {
				t.Errorf("node_memory_MemTotal_bytes = %v, JSON says %d kB", got, m.MemoryTotalKB)
			}
			if got := gauge(families, "guest_agent_cpu_usage_percent"); got != m.CPUUsagePercent {
				t.Errorf("guest_agent_cpu_usage_percent = %v, JSON says %v", got, m.CPUUsagePercent)
			}
			cpus := map[string]bool{}
			for _, s := range families["node_cpu_seconds_total"].GetMetric() {
				cpus[label(s, "cpu")] = true
			}
			if len(cpus) != m.CPUCount {
				t.Errorf("node_cpu_seconds_total covers %d CPUs, cpu_count is %d", len(cpus), m.CPUCount)
			}
			for _, s := range families["node_network_receive_bytes_total"].GetMetric() {
				if label(s, "device") == "" {
					t.Error("network sample without a device label")
				}
			}
		})
	}
}

func TestPromMeminfoNames(t *testing.T) {
	for in, want := range map[string]string{"MemTotal": "MemTotal", "Active(anon)": "Active_anon", "Inactive(file)": "Inactive_file",
		"HugePages_Total": "HugePages_Total", "DirectMap4k": "DirectMap4k", "9bad-name": "_bad_name"} {
		if got := metricName(in); got != want {
			t.Errorf("metricName(%q) = %q, want %q", in, got, want)
		}
	}
}

func gauge(f map[string]*dto.MetricFamily, name string) float64 {
	fam := f[name]
	if fam == nil || len(fam.GetMetric()) == 0 {
		return math.NaN()
	}
	return fam.GetMetric()[0].GetGauge().GetValue()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func BenchmarkSample(b *testing.B) {
	s := New(Options{FS: procfs.NewFS("/proc", "/sys"), Version: "bench"})
	s.Sample()
	b.ReportAllocs()
	for b.Loop() {
		s.Sample()
	}

}

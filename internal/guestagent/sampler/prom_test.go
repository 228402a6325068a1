package sampler

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
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

// nodeExporterLabels are node_exporter's (v1.12) label names of the families
// the agent exports under its names; a family not listed has none.
var nodeExporterLabels = map[string][]string{
	"node_cpu_seconds_total":       {"cpu", "mode"},
	"node_cpu_guest_seconds_total": {"cpu", "mode"},
	"node_uname_info":              {"domainname", "machine", "nodename", "release", "sysname", "version"},
	"node_filesystem_size_bytes":   {"device", "device_error", "fstype", "mountpoint"},
	"node_filesystem_free_bytes":   {"device", "device_error", "fstype", "mountpoint"},
	"node_filesystem_avail_bytes":  {"device", "device_error", "fstype", "mountpoint"},
}

// TestPromNodeExporterLabels: every node_* family carries exactly
// node_exporter's label names, so a query or dashboard written for
// node_exporter matches the agent's series unchanged.
func TestPromNodeExporterLabels(t *testing.T) {
	s := New(Options{FS: procfs.NewFS("../procfs/testdata/linux-6.18/proc", "../procfs/testdata/linux-6.18/sys"), Version: "v1"})
	s.Sample()
	families, err := promparse.Parse(s.Sample().Prom)
	if err != nil {
		t.Fatal(err)
	}
	for name, fam := range families {
		if !strings.HasPrefix(name, "node_") {
			continue
		}
		want := nodeExporterLabels[name]
		if want == nil {
			switch {
			case strings.HasPrefix(name, "node_network_"), strings.HasPrefix(name, "node_disk_"):
				want = []string{"device"}
			default:
				want = []string{}
			}
		}
		for _, m := range fam.GetMetric() {
			got := []string{}
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels %v, node_exporter's are %v", name, got, want)
				break
			}
		}
	}
	if u := families["node_uname_info"].GetMetric()[0]; label(u, "machine") == "" || label(u, "version") == "" {
		t.Errorf("node_uname_info %v", u)
	}
}

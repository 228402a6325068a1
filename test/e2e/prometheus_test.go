package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/fcmon/fcmon/internal/testsupport/promparse"
)

// dashboardPath is the Grafana dashboard docs/prometheus-grafana.md offers.
const dashboardPath = "../../docs/grafana/fcmon-manager.json"

// checkPrometheus scrapes the manager as Prometheus does: the text parses with
// Prometheus's own parser, every VM gauge holds both VMs from their agents, and
// every metric the Grafana dashboard queries is in the output.
func (s *system) checkPrometheus(t *testing.T) {
	// Two rounds after the restart, so every VM has a sample of its own.
	time.Sleep(2 * pollInterval)
	families := scrape(t, s.client.Base+"/metrics")
	cpu := families["fcmon_vm_cpu_usage_percent"]
	if cpu == nil {
		t.Fatal("fcmon_vm_cpu_usage_percent is missing")
	}
	for _, g := range s.guests {
		labels := seriesLabels(cpu, g.id)
		if labels == nil {
			t.Errorf("fcmon_vm_cpu_usage_percent has no series with vm_id %s (%s)", g.id, g.Name)
		} else if labels["vm_name"] != g.Name || labels["source"] != "guest" {
			t.Errorf("%s: labels %v", g.Name, labels)
		}
	}
	checkDashboard(t, families)
}

// scrape fetches and parses a /metrics page with Prometheus's Accept header.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=0.9,*/*;q=0.1")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	families, err := promparse.Parse(body)
	if err != nil {
		t.Fatalf("%s does not parse with Prometheus's parser: %v\n%s", url, err, body)
	}
	return families
}

// seriesLabels returns the labels of f's series with vm_id id, nil without one.
func seriesLabels(f *dto.MetricFamily, id string) map[string]string {
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["vm_id"] == id {
			return labels
		}
	}
	return nil
}

var metricName = regexp.MustCompile(`\bfcmon_[a-z0-9_]+`)

// checkDashboard checks the dashboard is valid JSON and that every fcmon_
// metric its queries use is exported (a histogram's _bucket, _sum and _count
// belong to its family).
func checkDashboard(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatalf("reading the dashboard: %v", err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, name := range metricName.FindAllString(target.Expr, -1) {
				used[name] = true
			}
		}
	}
	if len(used) == 0 {
		t.Fatalf("%s queries no fcmon_ metric", dashboardPath)
	}
	var names []string
	for name := range used {
		names = append(names, name)
		if families[name] != nil {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if f := families[base]; f == nil || (f.GetType() != dto.MetricType_HISTOGRAM && f.GetType() != dto.MetricType_SUMMARY) {
			t.Errorf("the dashboard queries %s, which the manager does not export", name)
		}
	}
	sort.Strings(names)
	t.Logf("dashboard metrics, all exported: %s", strings.Join(names, " "))
}

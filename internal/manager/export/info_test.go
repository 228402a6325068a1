package export

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/labels"
)

func labeledVMs() []Labeled {
	vms := twoVMs()
	vms[0].HostID, vms[0].Labels = "host-1", labels.Set{"tenant": "acme", "template": "py"}
	vms[1].Labels = labels.Set{"tenant": "globex", "tier": "prod"}
	return vms
}

// TestVMInfo: fcmon_vm_info carries every VM's labels (a VM without one
// of them has it absent), and the copied ones are on every VM series.
func TestVMInfo(t *testing.T) {
	_, h := NewRegistry(labeledVMs, nil, []string{"tenant"})
	fams := scrape(t, h)
	if m := find(fams, "fcmon_vm_info", map[string]string{"vm_id": "vm-1", "host": "host-1", "tenant": "acme", "template": "py", "tier": ""}); m == nil || value(m) != 1 {
		t.Errorf("vm-1's info: %v", m)
	}
	if m := find(fams, "fcmon_vm_info", map[string]string{"vm_id": "vm-2", "host": "", "tenant": "globex", "tier": "prod", "template": ""}); m == nil {
		t.Error("vm-2's info is missing")
	}
	if m := find(fams, "fcmon_vm_cpu_usage_percent", map[string]string{"vm_id": "vm-1", "tenant": "acme"}); m == nil || value(m) != 45.2 {
		t.Errorf("vm-1's CPU with its tenant: %v", m)
	}
	for _, m := range fams["fcmon_vm_cpu_usage_percent"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "template" || l.GetName() == "tier" {
				t.Errorf("a label not in --prometheus-labels is on a series: %v", m)
			}
		}
	}
}

// TestScopedExport: a scoped scrape holds the series of the VMs kept only,
// and none of the manager's own.
func TestScopedExport(t *testing.T) {
	_, h := NewRegistry(labeledVMs, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil), func(id string) bool { return id == "vm-2" })
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `vm_id="vm-2"`) || strings.Contains(body, `vm_id="vm-1"`) ||
		strings.Contains(body, "fcmon_poll_") || strings.Contains(body, "go_goroutines") || !strings.Contains(body, "fcmon_vm_info") {
		t.Errorf("scoped scrape: %d\n%s", rec.Code, body)
	}
}

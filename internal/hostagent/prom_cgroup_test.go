package hostagent

import (
	"strconv"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/cgtest"
	"github.com/fcmon/fcmon/internal/testsupport/poll"
)

// TestCgroupFigures: a VMM in a real cgroup v1 with a CPU quota it keeps
// using up shows its cgroup — quota, throttling, memory limit — in
// GET /v1/samples and as host_agent_cgroup_* series on /metrics.
func TestCgroupFigures(t *testing.T) {
	g := cgtest.New(t, cgtest.Quota(0.25, 512<<20))
	pid := cgtest.Busy(t)
	g.Add(t, pid)
	ta := startAgent(t, func(c *Config) { c.Interval, c.SysRoot = 200*time.Millisecond, "/sys" })
	ta.expect(t, 201, "POST", "/v1/vms", `{"id":"vm-cg","pid":`+strconv.Itoa(pid)+`}`)
	defer func() {
		if t.Failed() {
			var st map[string]any
			ta.call(t, "GET", "/v1/vms/vm-cg/stats", "", &st)
			t.Logf("stats: %v", st)
		}
	}()
	poll.Until(t, 10*time.Second, "the cgroup throttled in /metrics", func() bool {
		get, _ := scrape(t, ta.url)
		n, ok := get("host_agent_cgroup_cpu_throttled_periods_total", map[string]string{"vm_id": "vm-cg"})
		return ok && n > 2
	})
	get, _ := scrape(t, ta.url)
	for name, want := range map[string]float64{"host_agent_cgroup_cpu_quota_cores": 0.25, "host_agent_cgroup_memory_limit_bytes": 512 << 20} {
		if v, ok := get(name, map[string]string{"vm_id": "vm-cg"}); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v, ok := get("host_agent_cgroup_cpu_throttled_seconds_total", map[string]string{"vm_id": "vm-cg"}); !ok || v <= 0 {
		t.Errorf("throttled seconds %v %v", v, ok)
	}
	doc := ta.samples(t)
	if len(doc.VMs) != 1 || doc.VMs[0].Cgroup == nil || doc.VMs[0].Cgroup.Version != 1 || doc.VMs[0].Cgroup.CPUThrottledSeconds <= 0 ||
		doc.VMs[0].Cgroup.Path != "/"+g.Name {
		t.Errorf("GET /v1/samples: %+v", doc.VMs)
	}
}

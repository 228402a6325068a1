package prometheus

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/poll"
	"github.com/fcmon/fcmon/internal/testsupport/procfixture"
	"github.com/fcmon/fcmon/internal/testsupport/promtool"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

const (
	readToken = "prometheus-read-token-0123"
	acmeToken = "acme-read-token-0123456789"
)

// TestLabelsWithoutAnAPICall: the host agent learns discovered VMs' labels
// from what their launcher controls — the labels file beside the API
// socket (which wins, and which is refused whole when others may write
// it), fcmon.labels in the VM's MMDS, Firecracker's metrics properties —
// and the manager shows them with no
// API call; a launcher rewriting the file relabels a running VM. A real
// Prometheus then joins fcmon_vm_info per tenant (the recording rules of
// docs/prometheus), finds --prometheus-labels' tenant on every series,
// and a scrape with a token scoped to tenant=acme holds acme's VMs only.
func TestLabelsWithoutAnAPICall(t *testing.T) {
	prom := promtool.Bin(t, "prometheus")
	guestBin, hostBin, managerBin, fcBin := buildAll(t)
	root := procfixture.Copy(t)
	g := testprog.Start(t, guestBin, root, nil, testprog.GuestServing, "--listen", "127.0.0.1:0",
		"--procfs", filepath.Join(root, "proc"), "--sysfs", filepath.Join(root, "sys"), "--interval", "250ms")

	scope := t.TempDir()
	writeLabels := func(id, body string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(scope, id, labels.FileName)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, vm := range []struct {
		id    string
		props map[string]string
		file  string
		mode  os.FileMode
		mmds  any
	}{
		{"fc-a", map[string]string{"tenant": "acme", "template": "py", "bundle-id": "fn-abc"}, "", 0, nil},
		{"fc-b", nil, `{"tenant": "globex"}`, 0o644, nil},
		{"fc-c", map[string]string{"tenant": "acme", "template": "py"}, `{"tenant": "ops"}`, 0o644, nil},
		{"fc-d", map[string]string{"tenant": "acme"}, `{"tenant": "acme"}`, 0o666, nil},
		{"fc-e", map[string]string{"tenant": "acme"}, "", 0, map[string]any{"fcmon": map[string]any{"labels": map[string]string{"tenant": "mmds-co"}}}},
	} {
		if err := os.MkdirAll(filepath.Join(scope, vm.id), 0o755); err != nil {
			t.Fatal(err)
		}
		if vm.file != "" {
			writeLabels(vm.id, vm.file, vm.mode)
		}
		fcstandin.StartProcess(t, fcstandin.ProcessOptions{Bin: fcBin, Dir: filepath.Join(scope, vm.id), ID: vm.id, Guest: g.Addr, Properties: vm.props, Metadata: vm.mmds})
	}
	host := testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0",
		"--interval", "1s", "--discover-scope", scope, "--allow-paths", scope, "--guest-allow-cidrs", "127.0.0.0/8")

	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("read prometheus "+readToken+"\nread acme "+acmeToken+" tenant=acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mgr := testprog.Start(t, managerBin, t.TempDir(), []string{"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")},
		testprog.ManagerServing, "--listen", "127.0.0.1:0", "--poll-interval", "1s", "--guest-allow-cidrs", "127.0.0.0/8",
		"--host-agents", "http://"+host.Addr, "--tokens-file", tokens, "--prometheus-labels", "tenant")

	want := map[string]string{"fc-a": "template=py,tenant=acme", "fc-b": "tenant=globex", "fc-c": "tenant=ops", "fc-d": "", "fc-e": "tenant=mmds-co"}
	byName := func(token string) map[string]wire.VM {
		var vms []wire.VM
		getJSONAuth(t, "http://"+mgr.Addr+"/v1/vms", token, &vms)
		out := map[string]wire.VM{}
		for _, v := range vms {
			out[v.Name] = v
		}
		return out
	}
	var vms map[string]wire.VM
	poll.Until(t, 30*time.Second, "the manager showing every VM's labels", func() bool {
		vms = byName(readToken)
		for name, w := range want {
			if v, ok := vms[name]; !ok || labels.Set(v.Labels).String() != w || v.LastSampleMs == 0 {
				return false
			}
		}
		return true
	})
	var samples wire.HostSamples
	getJSONAuth(t, "http://"+host.Addr+"/v1/samples", "", &samples)
	problems := map[string]string{}
	for _, v := range samples.VMs {
		problems[v.ID] = v.Errors["labels"]
	}
	if !strings.Contains(problems["fc-a"], "1 of Firecracker's metrics properties are not labels") ||
		!strings.Contains(problems["fc-d"], "may be written by others") || problems["fc-b"] != "" || problems["fc-c"] != "" {
		t.Errorf("the host agent's word on the labels: %q", problems)
	}

	// The launcher relabels fc-b: seen within the file's reread and a poll.
	writeLabels("fc-b", `{"tenant": "acme", "tier": "dev"}`, 0o644)
	poll.Until(t, 30*time.Second, "fc-b relabelled", func() bool {
		return labels.Set(byName(readToken)["fc-b"].Labels).String() == "tenant=acme,tier=dev"
	})
	scoped := byName(acmeToken)
	if len(scoped) != 2 || scoped["fc-a"].ID == "" || scoped["fc-b"].ID == "" {
		t.Errorf("acme's token lists %d VMs: %v", len(scoped), keys(scoped))
	}

	// Prometheus: the manager's /metrics with a read token, and again with
	// acme's; the tenant rules over them.
	promAddr := freeAddr(t)
	rules, _ := filepath.Abs("../../docs/prometheus/fcmon-rules.yml")
	startPrometheusWith(t, prom, promAddr, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: fcmon-manager
    authorization: {credentials: %s}
    static_configs: [{targets: ['%s']}]
  - job_name: acme
    authorization: {credentials: %s}
    static_configs: [{targets: ['%s']}]
`, rules, readToken, mgr.Addr, acmeToken, mgr.Addr))
	poll.Until(t, 30*time.Second, "the tenant rules evaluated", func() bool {
		r := promQuery(t, promAddr, `tenant:fcmon_vms:count{job="fcmon-manager"}`)
		counts := map[string]string{}
		for _, s := range r {
			counts[s.Metric["tenant"]] = s.Value[1].(string)
		}
		return counts["acme"] == "2" && counts["ops"] == "1" && counts["mmds-co"] == "1" && counts[""] == "1"
	})
	if r := promQuery(t, promAddr, `tenant:fcmon_vm_cpu_usage_percent:sum{job="fcmon-manager",tenant="acme"}`); len(r) != 1 {
		t.Errorf("acme's CPU: %+v", r)
	}
	if r := promQuery(t, promAddr, `fcmon_vm_cpu_usage_percent{job="fcmon-manager",tenant="acme"}`); len(r) != 2 {
		t.Errorf("--prometheus-labels tenant: %d CPU series with tenant=acme, want 2: %+v", len(r), r)
	}
	// The acme job scrapes on its own schedule: its first scrape may come
	// after the manager job's.
	var names []string
	acme := func() bool {
		names = nil
		for _, s := range promQuery(t, promAddr, `fcmon_vm_info{job="acme"}`) {
			names = append(names, s.Metric["vm_name"])
		}
		sort.Strings(names)
		return len(names) > 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for !acme() && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	if strings.Join(names, ",") != "fc-a,fc-b" {
		t.Errorf("the scrape with acme's token holds %q, want fc-a and fc-b only", names)
	}
	if r := promQuery(t, promAddr, `fcmon_samples_total{job="acme"}`); len(r) != 0 {
		t.Errorf("the scrape with acme's token holds the manager's own series: %+v", r)
	}
}

func keys(m map[string]wire.VM) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func getJSONAuth(t *testing.T, u, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

// startPrometheusWith runs Prometheus on addr with the configuration cfg,
// its data in a temporary directory.
func startPrometheusWith(t *testing.T, bin, addr, cfg string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	poll.Until(t, 30*time.Second, "Prometheus ready", func() bool {
		res, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
}

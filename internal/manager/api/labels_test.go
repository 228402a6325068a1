package api

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/access"
)

func TestLabelsRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	vm := e.create(t, `{"name":"a","labels":{"tenant":"acme","tier":"prod"}}`)
	if vm.Labels["tenant"] != "acme" || len(vm.Labels) != 2 {
		t.Fatalf("created: labels %v", vm.Labels)
	}
	w := e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID})
	var got wire.VM
	decode(t, w, &got)
	if got.Labels["tier"] != "prod" {
		t.Errorf("GET: labels %v", got.Labels)
	}
	// Every bad one: a 400 naming the rule, nothing stored.
	for body, want := range map[string]string{
		`{"name":"b","labels":{"__name__":"x"}}`:                         `starts with \"__\"`,
		`{"name":"b","labels":{"fcmon_x":"x"}}`:                          `starts with \"fcmon_\"`,
		`{"name":"b","labels":{"team-id":"x"}}`:                          "Prometheus' rule",
		`{"name":"b","labels":{"tenant":""}}`:                            "empty value",
		`{"name":"b","labels":{"vm_id":"x"}}`:                            "fcmon's own series labels",
		`{"name":"b","labels":{"tenant":1}}`:                             "labels",
		`{"name":"b","labels":["tenant"]}`:                               "labels",
		`{"name":"b","labels":{"t":"` + strings.Repeat("v", 257) + `"}}`: "at most 256",
		`{"name":"b","labels":{` + manyLabels(33) + `}}`:                 "at most 32",
	} {
		w := e.do(t, request{method: "POST", path: "/v1/vms", body: body})
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("POST %.60s: %d %s, want 400 with %q", body, w.Code, w.Body, want)
		}
	}
	if n := e.count(t); n != 1 {
		t.Errorf("%d VMs after refused registrations, want 1", n)
	}
	// PATCH replaces the API's labels whole.
	w = e.do(t, request{method: "PATCH", path: "/v1/vms/" + vm.ID, body: `{"labels":{"app":"web"}}`})
	got = wire.VM{}
	decode(t, w, &got)
	if w.Code != 200 || len(got.Labels) != 1 || got.Labels["app"] != "web" {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	for body, want := range map[string]string{
		`{}`:                             "labels is missing",
		`{"labels":{"__x":"1"}}`:         `starts with \"__\"`,
		`{"labels":{},"name":"renamed"}`: "unknown field",
		`{"labels":null}`:                "labels is missing",
	} {
		w := e.do(t, request{method: "PATCH", path: "/v1/vms/" + vm.ID, body: body})
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("PATCH %s: %d %s, want 400 with %q", body, w.Code, w.Body, want)
		}
	}
	if w := e.do(t, request{method: "PATCH", path: "/v1/vms/00000000-0000-4000-8000-000000000000", body: `{"labels":{}}`}); w.Code != 404 {
		t.Errorf("PATCH of an unknown VM: %d", w.Code)
	}
	stored, _ := e.st.GetVM(context.Background(), vm.ID)
	if !stored.Labels.Equal(map[string]string{"app": "web"}) {
		t.Errorf("after refused PATCHes the labels are %v", stored.Labels)
	}
	w = e.do(t, request{method: "PATCH", path: "/v1/vms/" + vm.ID, body: `{"labels":{}}`})
	got = wire.VM{}
	decode(t, w, &got)
	if w.Code != 200 || got.Labels != nil {
		t.Errorf("PATCH {}: %d %s", w.Code, w.Body)
	}
}

func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":"v"`)
	}
	return b.String()
}

// fleetOfFour registers a (acme, prod), b (acme, dev, gpu), c (globex) and
// d (no labels), each with a guest address and a live sample.
func fleetOfFour(t *testing.T, e *env) map[string]wire.VM {
	t.Helper()
	vms := map[string]wire.VM{}
	for i, v := range []struct{ name, labels string }{
		{"a", `{"tenant":"acme","tier":"prod"}`},
		{"b", `{"tenant":"acme","tier":"dev","gpu":"a100"}`},
		{"c", `{"tenant":"globex"}`},
		{"d", `{}`},
	} {
		vm := e.create(t, `{"name":"`+v.name+`","guest_ip":"10.0.0.`+string(rune('1'+i))+`","labels":`+v.labels+`}`)
		cpu, used := float64(10*(i+1)), uint64(1000*(i+1))
		e.samples.mu.Lock()
		e.samples.m[vm.ID] = wire.CombinedSample{VMID: vm.ID, TimestampMs: testNow.UnixMilli(), Source: wire.SourceGuest,
			MemorySource: wire.SourceGuest, CPUUsagePercent: &cpu, MemoryUsedKB: &used}
		e.samples.mu.Unlock()
		vms[v.name] = vm
	}
	return vms
}

func pageNames(t *testing.T, e *env, path string, header map[string]string) []string {
	t.Helper()
	w := e.do(t, request{method: "GET", path: path, header: header})
	if w.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	var page wire.VMPage
	decode(t, w, &page)
	var out []string
	for _, v := range page.VMs {
		out = append(out, v.Name)
	}
	return out
}

func TestSelectors(t *testing.T) {
	e := newEnv(t, nil)
	vms := fleetOfFour(t, e)
	for query, want := range map[string]string{
		"label=tenant%3Dacme":                       "a,b",
		"label=tenant%3Dacme&label=tier!%3Ddev":     "a",
		"label=tier!%3Ddev":                         "a,c,d",
		"label=gpu":                                 "b",
		"label=!tenant":                             "d",
		"label=tenant%3Dnobody":                     "",
		"label=tenant%3Dacme&sort=cpu":              "b,a",
		"label=" + url.QueryEscape("tenant=acme=x"): "",
	} {
		if got := strings.Join(pageNames(t, e, "/v1/vms?"+query, nil), ","); got != want {
			t.Errorf("?%s: %q, want %q", query, got, want)
		}
	}
	for query, want := range map[string]string{
		"label=__x":                    "reserves",
		"label=tenant%3D":              "no value",
		"label=a-b":                    "Prometheus' rule",
		"label=":                       "empty",
		"label=!":                      "empty",
		strings.Repeat("label=a&", 17): "at most 16",
	} {
		for _, path := range []string{"/v1/vms?", "/v1/fleet?", "/v1/events?", "/v1/prometheus/sd?"} {
			w := e.do(t, request{method: "GET", path: path + query})
			if w.Code != 400 || !strings.Contains(errorOf(t, w), want) {
				t.Errorf("%s%s: %d %s, want 400 with %q", path, query, w.Code, w.Body, want)
			}
		}
	}
	// The fleet within a selection, and grouped.
	var f wire.Fleet
	decode(t, e.do(t, request{method: "GET", path: "/v1/fleet?label=tenant%3Dacme"}), &f)
	if f.VMs != 2 || len(f.Top.CPU) != 2 || f.Top.CPU[0].Name != "b" {
		t.Errorf("fleet of acme: %d VMs, top %+v", f.VMs, f.Top.CPU)
	}
	decode(t, e.do(t, request{method: "GET", path: "/v1/fleet?group_by=tenant"}), &f)
	if f.GroupBy != "tenant" || len(f.Groups) != 3 {
		t.Fatalf("groups: %+v", f.Groups)
	}
	if g := f.Groups[0]; g.Value != "acme" || g.VMs != 2 || g.Live != 2 || g.CPUPercentSum != 30 || g.MemoryUsedKBSum != 3000 {
		t.Errorf("acme's group: %+v", g)
	}
	if g := f.Groups[2]; !g.Missing || g.VMs != 1 || g.CPUPercentSum != 40 {
		t.Errorf("the group without the label, last: %+v", g)
	}
	for _, bad := range []string{"group_by=", "group_by=a-b", "group_by=a&group_by=b", "sort=cpu"} {
		if w := e.do(t, request{method: "GET", path: "/v1/fleet?" + bad}); w.Code != 400 {
			t.Errorf("/v1/fleet?%s: %d", bad, w.Code)
		}
	}
	// Events of the selected VMs only.
	if _, err := e.st.AddEvents(context.Background(), []wire.Event{
		{VMID: vms["a"].ID, Type: wire.EventReboot, TimestampMs: 1000, Message: "a"},
		{VMID: vms["c"].ID, Type: wire.EventReboot, TimestampMs: 2000, Message: "c"},
	}); err != nil {
		t.Fatal(err)
	}
	var evs []wire.Event
	decode(t, e.do(t, request{method: "GET", path: "/v1/events?label=tenant%3Dacme"}), &evs)
	if len(evs) != 1 || evs[0].VMID != vms["a"].ID {
		t.Errorf("events of acme: %+v", evs)
	}
	decode(t, e.do(t, request{method: "GET", path: "/v1/events?label=tenant%3Dacme&vm_id=" + vms["c"].ID}), &evs)
	if len(evs) != 0 {
		t.Errorf("events of c within acme: %+v", evs)
	}
	// The SD: the selected direct guests, labels for relabelling.
	var groups []wire.SDTargetGroup
	decode(t, e.do(t, request{method: "GET", path: "/v1/prometheus/sd?label=gpu"}), &groups)
	if len(groups) != 1 || groups[0].Labels["vm_name"] != "b" || groups[0].Labels["__meta_fcmon_label_gpu"] != "a100" {
		t.Errorf("SD of gpu: %+v", groups)
	}
}

func TestPrometheusLabelsOnSDTargets(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PrometheusLabels = []string{"tenant"} })
	fleetOfFour(t, e)
	var groups []wire.SDTargetGroup
	decode(t, e.do(t, request{method: "GET", path: "/v1/prometheus/sd"}), &groups)
	byName := map[string]map[string]string{}
	for _, g := range groups {
		byName[g.Labels["vm_name"]] = g.Labels
	}
	if byName["a"]["tenant"] != "acme" || byName["c"]["tenant"] != "globex" || byName["d"]["tenant"] != "" || byName["a"]["tier"] != "" {
		t.Errorf("targets: %v", byName)
	}
}

// wantScopes is how every GET behind a credential answers a token scoped
// to some VMs: "filtered" (those VMs only, 404 for the others), "refused"
// (403) or "any". A new GET fails TestScopedToken until it is listed.
var wantScopes = map[string]string{
	"GET /metrics":                     "filtered",
	"GET /v1/vms":                      "filtered",
	"GET /v1/vms/{id}":                 "filtered",
	"GET /v1/vms/{id}/metrics":         "filtered",
	"GET /v1/vms/{id}/metrics/history": "filtered",
	"GET /v1/vms/{id}/metrics/ws":      "filtered",
	"GET /v1/vms/{id}/events":          "filtered",
	"GET /v1/metrics/ws":               "filtered",
	"GET /v1/fleet":                    "filtered",
	"GET /v1/fleet/ws":                 "filtered",
	"GET /v1/events":                   "filtered",
	"GET /v1/usage":                    "filtered",
	"GET /v1/prometheus/sd":            "filtered",
	"GET /v1/cluster":                  "refused",
	"GET /v1/cluster/latest":           "refused",
	"GET /v1/hosts":                    "refused",
	"GET /v1/hosts/{id}":               "refused",
	"GET /v1/whoami":                   "any",
	"GET /v1/":                         "any",
}

// TestScopedToken: a read token with a SELECTOR reads every endpoint as if
// the fleet held its VMs only; another VM is a 404 like an unknown one.
func TestScopedToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("admin ops admin-token-0123456789\nread acme acme-token-0123456789 tenant=acme,tier!=dev\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := access.New(access.Options{TokensFile: file})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Keys = keys })
	admin := map[string]string{"Authorization": "Bearer admin-token-0123456789"}
	acme := map[string]string{"Authorization": "Bearer acme-token-0123456789"}
	var vms = map[string]wire.VM{}
	for i, v := range []struct{ name, labels string }{{"a", `{"tenant":"acme"}`}, {"b", `{"tenant":"acme","tier":"dev"}`}, {"c", `{"tenant":"globex"}`}} {
		w := e.do(t, request{method: "POST", path: "/v1/vms", header: admin,
			body: `{"name":"` + v.name + `","guest_ip":"10.0.0.` + string(rune('1'+i)) + `","labels":` + v.labels + `}`})
		var vm wire.VM
		decode(t, w, &vm)
		vms[v.name] = vm
		e.samples.m[vm.ID] = wire.CombinedSample{VMID: vm.ID, TimestampMs: testNow.UnixMilli(), Source: wire.SourceGuest, MemorySource: wire.SourceGuest}
	}
	in, out := vms["a"], vms["c"]
	for _, rt := range e.api.Routes() {
		if rt.Method != "GET" {
			continue
		}
		key := "GET " + rt.Pattern
		want, listed := wantScopes[key]
		switch {
		case !listed:
			t.Errorf("%s is a new read: say in wantScopes how a scoped token reads it", key)
			continue
		case want == "filtered" && !rt.Scoped, want == "refused" && !rt.ScopeRefused:
			t.Errorf("%s: scoped %v refused %v, want %s", key, rt.Scoped, rt.ScopeRefused, want)
		}
		path := func(id string) string { return strings.ReplaceAll(rt.Pattern, "{id}", id) }
		switch {
		case want == "refused":
			w := e.do(t, request{method: "GET", path: path(in.ID), header: acme})
			if w.Code != 403 || !strings.Contains(errorOf(t, w), "sees only the VMs with tenant=acme,tier!=dev") {
				t.Errorf("%s with a scoped token: %d %s, want 403", key, w.Code, w.Body)
			}
		case strings.Contains(rt.Pattern, "{id}"):
			if w := e.do(t, request{method: "GET", path: path(in.ID), header: acme}); w.Code != 200 {
				t.Errorf("%s of its own VM: %d %s", key, w.Code, w.Body)
			}
			for _, other := range []string{out.ID, vms["b"].ID} {
				w := e.do(t, request{method: "GET", path: path(other), header: acme})
				unknown := e.do(t, request{method: "GET", path: path("00000000-0000-4000-8000-000000000000"), header: acme})
				if w.Code != 404 || unknown.Code != 404 ||
					strings.ReplaceAll(w.Body.String(), other, "ID") != strings.ReplaceAll(unknown.Body.String(), "00000000-0000-4000-8000-000000000000", "ID") {
					t.Errorf("%s of another VM: %d %s; of an unknown one: %d %s", key, w.Code, w.Body, unknown.Code, unknown.Body)
				}
			}
		case want == "filtered":
			w := e.do(t, request{method: "GET", path: rt.Pattern, header: acme})
			body := w.Body.String()
			if w.Code != 200 || strings.Contains(body, out.ID) || strings.Contains(body, vms["b"].ID) || strings.Contains(body, `"c"`) {
				t.Errorf("%s with a scoped token: %d %s", key, w.Code, body)
			}
			if rt.Stream || rt.Pattern == "/metrics" {
				if !strings.Contains(body, "scoped") {
					t.Errorf("%s with a scoped token is not filtered: %s", key, body)
				}
			}
		}
	}
	// The lists hold a only, whatever the query adds.
	if got := pageNames(t, e, "/v1/vms?limit=10", acme); !slices.Equal(got, []string{"a"}) {
		t.Errorf("list: %q", got)
	}
	if got := pageNames(t, e, "/v1/vms?label=tenant%3Dglobex", acme); len(got) != 0 {
		t.Errorf("a selection outside the scope: %q", got)
	}
	var all []wire.VM
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms", header: acme}), &all)
	if len(all) != 1 || all[0].ID != in.ID {
		t.Errorf("unpaged list: %+v", all)
	}
	var f wire.Fleet
	decode(t, e.do(t, request{method: "GET", path: "/v1/fleet?group_by=tenant", header: acme}), &f)
	if f.VMs != 1 || len(f.Groups) != 1 || f.Groups[0].Value != "acme" {
		t.Errorf("fleet: %+v", f)
	}
	var who map[string]string
	decode(t, e.do(t, request{method: "GET", path: "/v1/whoami", header: acme}), &who)
	if who["scope"] != "tenant=acme,tier!=dev" || who["role"] != "read" {
		t.Errorf("whoami: %v", who)
	}
	w := e.do(t, request{method: "GET", path: "/v1/fleet/ws?label=gpu", header: acme})
	if !strings.Contains(w.Body.String(), "sel=tenant=acme,tier!=dev,gpu") {
		t.Errorf("the fleet stream's selection: %s", w.Body)
	}
	// A scoped token writes nothing.
	if w := e.do(t, request{method: "PATCH", path: "/v1/vms/" + in.ID, body: `{"labels":{}}`, header: acme}); w.Code != 403 {
		t.Errorf("PATCH with a scoped token: %d", w.Code)
	}
}

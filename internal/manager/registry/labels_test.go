package registry

import (
	"context"
	"testing"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/manager/collector"
)

// TestLauncherLabels: the labels a host agent reports come with a new VM,
// follow when its launcher changes them, and are dropped whole when they
// break the rules; the API's labels stay over them.
func TestLauncherLabels(t *testing.T) {
	st := churnStore(t)
	r := New(Options{Store: st})
	h := collector.HostTarget{ID: "11111111-1111-4111-8111-111111111111", URL: "http://10.0.0.1:9091"}
	ctx := context.Background()
	report := func(set map[string]string) string {
		t.Helper()
		ids, err := r.Register(ctx, h, "", []collector.HostVM{{HostVMID: "web-1", Labels: set}}, nil)
		if err != nil || ids["web-1"] == "" {
			t.Fatalf("Register: %v, %v", ids, err)
		}
		return ids["web-1"]
	}
	cached := func(id string) labels.Set {
		t.Helper()
		set, ok := r.LabelsOf(id)
		if !ok {
			t.Fatalf("%s is not cached", id)
		}
		return set
	}
	id := report(map[string]string{"tenant": "acme"})
	if _, err := r.CurrentVMs(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cached(id); !got.Equal(labels.Set{"tenant": "acme"}) {
		t.Fatalf("a new VM's labels: %v", got)
	}
	report(map[string]string{"tenant": "acme", "template": "py"})
	stored, _ := st.GetVM(ctx, id)
	if !stored.LauncherLabels.Equal(labels.Set{"tenant": "acme", "template": "py"}) || !cached(id).Equal(stored.Merged) {
		t.Errorf("after the launcher changed them: stored %v, cached %v", stored.LauncherLabels, cached(id))
	}
	if _, err := st.SetLabels(ctx, id, labels.Set{"tenant": "ops"}); err != nil {
		t.Fatal(err)
	}
	r.Changed()
	if _, err := r.CurrentVMs(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cached(id); got["tenant"] != "ops" || got["template"] != "py" {
		t.Errorf("the API's labels over the launcher's: %v", got)
	}
	report(map[string]string{"__bad": "x"})
	stored, _ = st.GetVM(ctx, id)
	if stored.LauncherLabels != nil || !cached(id).Equal(labels.Set{"tenant": "ops"}) {
		t.Errorf("after labels that break the rules: stored %v, cached %v", stored.LauncherLabels, cached(id))
	}
}

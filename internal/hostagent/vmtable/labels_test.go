package vmtable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// TestLabelsFile: the file beside the API socket is read, reread after
// labelsReread, refused whole when others may write it, and absent means
// the properties.
func TestLabelsFile(t *testing.T) {
	dir := t.TempDir()
	socket := vmpath.Path{Root: vmpath.Host([]string{dir}, vmpath.AnyOwner), Name: filepath.Join(dir, "api.sock")}
	v := &vm{paths: resolvedPaths{socket: socket}}
	props := map[string]string{"tenant": "acme", "bundle-id": "x"}
	t0 := time.Now()
	set, problem := vmLabels(v, props, t0)
	if set.String() != "tenant=acme" || !strings.Contains(problem, "1 of Firecracker's metrics properties are not labels") {
		t.Errorf("without a file: %v, %q", set, problem)
	}
	file := filepath.Join(dir, labels.FileName)
	write := func(body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"tenant": "ops"}`, 0o644)
	if set, problem := vmLabels(v, props, t0.Add(labelsReread)); set.String() != "tenant=ops" || problem != "" {
		t.Errorf("with a file: %v, %q", set, problem)
	}
	write(`{"tenant": "globex"}`, 0o644)
	if set, _ := vmLabels(v, props, t0.Add(labelsReread+time.Second)); set.String() != "tenant=ops" {
		t.Errorf("reread before its time: %v", set)
	}
	if set, _ := vmLabels(v, props, t0.Add(2*labelsReread+time.Second)); set.String() != "tenant=globex" {
		t.Errorf("not reread after labelsReread: %v", set)
	}
	write(`{"tenant": "globex"}`, 0o666)
	if set, problem := vmLabels(v, props, t0.Add(4*labelsReread)); set != nil || !strings.Contains(problem, "may be written by others") {
		t.Errorf("a file others may write: %v, %q", set, problem)
	}
	write(`{"tenant": 7}`, 0o644)
	if set, problem := vmLabels(v, props, t0.Add(6*labelsReread)); set != nil || !strings.Contains(problem, "not a string") {
		t.Errorf("a file that is no labels: %v, %q", set, problem)
	}
}

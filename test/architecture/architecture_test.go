// Package architecture checks the import rules of docs/architecture.md
// over the whole module with `go list`: what each program's packages, the
// shared core and the commands may import, and what the guest agent's
// binary may link. It runs in `make lint` and in `make test`.
package architecture

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fcmon/fcmon"

// programs are the subtrees of internal/ that belong to one program each.
var programs = []string{"guestagent", "hostagent", "manager", "fcmonctl"}

// guestForbidden may not be in the guest agent's binary: they would break
// its size budget (net/http alone is 5.7 MiB) or bring what it must not do
// (name resolution, TLS).
var guestForbidden = []string{"net", "net/http", "encoding/json", "regexp", "log/slog", "crypto/tls", "os/exec"}

type pkg struct {
	path    string
	imports []string // production imports
	tests   []string // imports of its tests
}

func list(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func packages(t *testing.T) []pkg {
	var out []pkg
	for _, l := range list(t, "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "./...") {
		f := strings.Split(l, "|")
		out = append(out, pkg{path: rel(f[0]), imports: rels(f[1]), tests: rels(f[2])})
	}
	return out
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func rels(s string) []string {
	var out []string
	for _, p := range strings.Fields(s) {
		if strings.HasPrefix(p, module) {
			out = append(out, rel(p))
		} else {
			out = append(out, p)
		}
	}
	return out
}

// owner is the program subtree a package belongs to, "core", "testsupport",
// "cmd/<program>", or "" (test/...).
func owner(path string) string {
	for _, p := range programs {
		if path == "internal/"+p || strings.HasPrefix(path, "internal/"+p+"/") {
			return p
		}
	}
	switch {
	case strings.HasPrefix(path, "internal/core/"):
		return "core"
	case strings.HasPrefix(path, "internal/testsupport/"):
		return "testsupport"
	case strings.HasPrefix(path, "cmd/"):
		return path
	}
	return ""
}

// TestImportRules: a program's packages import no other program's; the
// core imports no program's; production code imports no test support; a
// command imports only its program and the core.
func TestImportRules(t *testing.T) {
	for _, p := range packages(t) {
		own := owner(p.path)
		check := func(imp string, test bool) {
			o := owner(imp)
			switch {
			case o == "" || own == "" || own == "testsupport":
			case o == "testsupport" && !test:
				t.Errorf("%s imports test support %s outside its tests", p.path, imp)
			case slices.Contains(programs, own) && slices.Contains(programs, o) && o != own:
				t.Errorf("%s (%s) imports %s, another program's package", p.path, own, imp)
			case own == "core" && slices.Contains(programs, o):
				t.Errorf("the shared core's %s imports %s, a program's package", p.path, imp)
			case strings.HasPrefix(own, "cmd/") && !test && o != "core" && o != strings.ReplaceAll(strings.TrimPrefix(own, "cmd/"), "-", ""):
				t.Errorf("%s imports %s; a command imports only its program and the core", p.path, imp)
			}
		}
		for _, imp := range p.imports {
			check(imp, false)
		}
		for _, imp := range p.tests {
			check(imp, true)
		}
	}
}

// TestGuestAgentDependencies: the guest agent's binary links none of
// guestForbidden, directly or through anything it imports.
func TestGuestAgentDependencies(t *testing.T) {
	deps := list(t, "-deps", "./cmd/guest-agent")
	for _, d := range deps {
		if slices.Contains(guestForbidden, d) {
			t.Errorf("the guest agent links %s, which it must not (see docs/architecture.md)", d)
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
}

// TestRulesHold: the rules are not vacuous — the owner of each subtree is
// recognised.
func TestRulesHold(t *testing.T) {
	for path, want := range map[string]string{
		"internal/guestagent/httpd": "guestagent", "internal/hostagent": "hostagent",
		"internal/manager/store": "manager", "internal/core/wire": "core",
		"internal/testsupport/vmtest": "testsupport", "cmd/guest-agent": "cmd/guest-agent", "test/e2e": "",
	} {
		if got := owner(path); got != want {
			t.Errorf("owner(%s) = %q, want %q", path, got, want)
		}
	}
}

// TestDocNamesEveryPackage: docs/architecture.md names every package of
// the module, so the map cannot fall behind the tree.
func TestDocNamesEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list(t, "./...") {
		path := rel(p)
		name := path
		switch {
		case strings.HasPrefix(path, "internal/"):
			name = strings.TrimPrefix(path, "internal/")
		case strings.HasPrefix(path, "cmd/"):
			name = "cmd/"
		}
		if !bytes.Contains(doc, []byte("`"+name)) {
			t.Errorf("docs/architecture.md does not name %s (as `%s`)", path, name)
		}
	}
}

// TestManagerLayers: inside the manager, imports point one way — the
// wiring (internal/manager) imports the parts and nothing imports it but
// the command; the domain parts (registry, cluster, events, fleet) are
// imported by the wiring, and fleet by the API that renders it, never by
// each other or by the parts they feed.
func TestManagerLayers(t *testing.T) {
	const root = "internal/manager"
	domain := map[string][]string{ // part → who may import it
		root + "/registry": {root},
		root + "/cluster":  {root},
		root + "/events":   {root},
		root + "/fleet":    {root, root + "/api"},
	}
	for _, p := range packages(t) {
		for _, imp := range p.imports {
			if imp == root && p.path != "cmd/manager" {
				t.Errorf("%s imports the manager's wiring (%s); only cmd/manager may", p.path, root)
			}
			if allowed, ok := domain[imp]; ok && !slices.Contains(allowed, p.path) {
				t.Errorf("%s imports %s; only %s may", p.path, imp, strings.Join(allowed, ", "))
			}
		}
	}
}

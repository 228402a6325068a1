// Package promtool finds Prometheus's own programs for tests: promtool, to
// check and unit-test alerting rules, and prometheus, a real server. make
// test provides them (scripts/install-deps.sh unpacks Debian's package into
// the cache when they are not installed).
package promtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Bin returns the path of name ("promtool" or "prometheus"): on PATH, else
// in $FCMON_CACHE (default ~/.cache/fcmon)/prometheus/usr/bin. A test
// without it is skipped, naming what to run.
func Bin(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	cache := os.Getenv("FCMON_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "fcmon")
	}
	p := filepath.Join(cache, "prometheus", "usr", "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is missing: run scripts/install-deps.sh (make test does), or apt-get install prometheus", name)
	}
	return p
}

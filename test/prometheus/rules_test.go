// Package prometheus tests fcmon against Prometheus itself: the alerting
// rules of docs/prometheus with promtool.
package prometheus

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/promtool"
)

// TestAlertRules checks docs/prometheus/fcmon-alerts.yml with promtool
// check rules and runs its unit tests with promtool test rules.
func TestAlertRules(t *testing.T) {
	bin := promtool.Bin(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "fcmon-alerts.yml"},
		{"test", "rules", "fcmon-alerts.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../docs/prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

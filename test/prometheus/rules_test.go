// Package prometheus tests fcmon against Prometheus itself: the alerting
// rules of docs/prometheus with promtool.
package prometheus

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/promtool"
)

// TestAlertRules checks the alerting and recording rules of
// docs/prometheus with promtool check rules and runs their unit tests with
// promtool test rules, and checks the scrape configuration.
func TestAlertRules(t *testing.T) {
	bin := promtool.Bin(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "fcmon-alerts.yml"},
		{"test", "rules", "fcmon-alerts.test.yml"},
		{"check", "rules", "fcmon-rules.yml"},
		{"test", "rules", "fcmon-rules.test.yml"},
		{"check", "config", "--syntax-only", "prometheus.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../docs/prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

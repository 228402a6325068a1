// Package ui holds the browser tests of the manager's web UI: a Go test
// builds the programs, runs a manager fed by real guest agents (over
// animated copies of a captured /proc), a real host agent, a Firecracker
// metrics FIFO and a child process standing for the VMM, then runs the
// Node test files of this directory (node --test, playwright-core driving
// Debian's Chromium) against it. Screenshots go to test-artifacts/ui/.
//
//	go test ./test/ui -update   also rewrites docs/ui-metrics-tab.png
package ui

import (
	"flag"
	"os"
	"os/exec"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

var update = flag.Bool("update", false, "rewrite docs/ui-metrics-tab.png from this run's screenshot of the metrics tab")

// Binaries TestMain builds; skip says why the browser tests cannot run.
var (
	guestAgentBin, hostAgentBin, managerBin string
	skip                                    string
)

// chromiumPath is Debian's Chromium, which the tests drive (never a
// browser downloaded by Playwright).
const chromiumPath = "/usr/bin/chromium"

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if skip = missing(); skip != "" {
		return m.Run() // the tests skip, naming what is missing
	}
	return testbuild.Main(m, "ui tests", []string{"guest-agent", "host-agent", "manager"}, &guestAgentBin, &hostAgentBin, &managerBin)
}

// missing names the first resource the browser tests lack, "" when none;
// `make test` (through make ui-test-deps) installs them all.
func missing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "no node on PATH (Node 20 or newer; make ui-test-deps needs it too)"
	}
	for _, need := range []struct{ path, what string }{
		{chromiumPath, "Debian's Chromium is missing (apt-get install chromium, or make ui-test-deps)"},
		{"../../web/node_modules/playwright-core/package.json", "playwright-core is not installed in web/node_modules (make ui-test-deps runs npm ci)"},
		{"../../web/node_modules/axe-core/axe.min.js", "axe-core is not installed in web/node_modules (make ui-test-deps runs npm ci)"},
		{"../../internal/manager/ui/npm/uPlot.iife.min.js", "uPlot is not copied into internal/manager/ui/npm (make ui-assets)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			return need.what
		}
	}
	return ""
}

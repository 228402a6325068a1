// Package manager holds the manager's integration tests: the real
// bin/manager, bin/guest-agent and bin/host-agent, built as the Makefile
// builds them, talking over loopback, with SQLite files and a throwaway
// PostgreSQL cluster.
package manager

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/store/pgtest"
)

// Binaries TestMain builds.
var guestAgentBin, hostAgentBin, managerBin string

// pg is the PostgreSQL server of the tests on that backend (see pgtest).
var pg *pgtest.Server

// pollInterval is the manager's --poll-interval in these tests.
const pollInterval = 250 * time.Millisecond

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "manager-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "manager tests:", err)
		return 1
	}
	if pg, err = pgtest.Start("manager tests"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	return m.Run()
}

// buildAll builds the three programs into dir as the Makefile does.
func buildAll(dir string) error {
	guestAgentBin = filepath.Join(dir, "guest-agent")
	hostAgentBin = filepath.Join(dir, "host-agent")
	managerBin = filepath.Join(dir, "manager")
	builds := []struct {
		out, pkg string
		env      []string
	}{
		{guestAgentBin, "../../cmd/guest-agent", []string{"CGO_ENABLED=0", "GOEXPERIMENT=nogreenteagc"}},
		{hostAgentBin, "../../cmd/host-agent", []string{"CGO_ENABLED=0"}},
		{managerBin, "../../cmd/manager", []string{"CGO_ENABLED=0"}},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// needPostgres returns the URL of an empty PostgreSQL schema for t, or skips
// t when there is no PostgreSQL.
func needPostgres(t *testing.T) string { return pg.NewSchema(t) }

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
	"strings"
	"testing"
	"time"
)

// Binaries TestMain builds.
var guestAgentBin, hostAgentBin, managerBin string

// pg is the PostgreSQL the tests use: FCMON_TEST_DATABASE_URL, or a
// cluster TestMain starts with scripts/pg-test-cluster.sh; skip says why
// there is none.
var pg struct{ url, skip string }

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
	stop, err := setupPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager tests:", err)
		return 1
	}
	defer stop()
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

// setupPostgres fills pg and returns what undoes it.
func setupPostgres() (stop func(), err error) {
	stop = func() {}
	if pg.url = os.Getenv("FCMON_TEST_DATABASE_URL"); pg.url != "" {
		return stop, nil
	}
	pgBin := os.Getenv("PG_BIN")
	if pgBin == "" {
		pgBin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		pg.skip = fmt.Sprintf("no PostgreSQL: FCMON_TEST_DATABASE_URL is not set and %s/initdb is missing (apt-get install postgresql-15, or set PG_BIN)", pgBin)
		return stop, nil
	}
	script, err := filepath.Abs("../../scripts/pg-test-cluster.sh")
	if err != nil {
		return stop, err
	}
	parent, err := os.MkdirTemp("", "fcmon-manager-pg-")
	if err != nil {
		return stop, err
	}
	// As root the server runs as user postgres, which must reach the
	// directory.
	if err := os.Chmod(parent, 0o755); err != nil {
		return stop, err
	}
	dir := filepath.Join(parent, "pg")
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PG_TEST_OWNER_PID=%d", os.Getpid()))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		exec.Command(script, "stop", dir).Run()
		os.RemoveAll(parent)
		return stop, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	pg.url = strings.TrimSpace(string(out))
	return func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "manager tests: stopping PostgreSQL: %v: %s\n", err, out)
		}
		os.RemoveAll(parent)
	}, nil
}

// needPostgres skips t when there is no PostgreSQL.
func needPostgres(t *testing.T) string {
	t.Helper()
	if pg.skip != "" {
		t.Skip(pg.skip)
	}
	return pg.url
}

// Package manager holds the manager's integration tests: the real
// bin/manager, bin/guest-agent and bin/host-agent, built as the Makefile
// builds them, talking over loopback, with SQLite files and a throwaway
// PostgreSQL cluster.
package manager

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/pgtest"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
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
	var err error
	if pg, err = pgtest.Start("manager tests"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	return testbuild.Main(m, "manager tests", []string{"guest-agent", "host-agent", "manager"}, &guestAgentBin, &hostAgentBin, &managerBin)
}

// needPostgres returns the URL of an empty PostgreSQL schema for t, or skips
// t when there is no PostgreSQL.
func needPostgres(t *testing.T) string { return pg.NewSchema(t) }

package ui

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// proc is a running program of ours (see testprog).
type proc = testprog.Proc

var (
	guestServing   = testprog.GuestServing
	hostServing    = testprog.HostServing
	managerServing = testprog.ManagerServing
)

// startVMM starts an idle process standing for a VMM.
func startVMM(t *testing.T) int { return testprog.StartIdle(t) }

// startGuestAgent runs a guest agent over procRoot (see procfixture.Animate).
func startGuestAgent(t *testing.T, procRoot string) *proc {
	t.Helper()
	return testprog.Start(t, guestAgentBin, procRoot, nil, guestServing, "--listen", "127.0.0.1:0",
		"--procfs", filepath.Join(procRoot, "proc"), "--sysfs", filepath.Join(procRoot, "sys"), "--interval", "250ms")
}

func startHostAgent(t *testing.T) *proc {
	t.Helper()
	return testprog.Start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0", "--interval", "250ms", "--allow-paths", os.TempDir(), "--discover=false")
}

// startManager runs the manager on a free loopback port with SQLite in a
// new directory and guests allowed on loopback.
func startManager(t *testing.T, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--poll-interval", pollInterval.String(),
		"--guest-allow-cidrs", "127.0.0.0/8"}, extra...)
	db := "DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")
	return testprog.Start(t, managerBin, t.TempDir(), []string{db}, managerServing, args...)
}

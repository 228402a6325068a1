package manager

import (
	"net/http"
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

// startGuestAgent runs a guest agent on a free loopback port over its own
// copy of the captured Linux 6.18 /proc and /sys.
func startGuestAgent(t *testing.T, extra ...string) *proc {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../internal/guestagent/procfs/testdata/linux-6.18")); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--procfs", filepath.Join(root, "proc"),
		"--sysfs", filepath.Join(root, "sys"), "--interval", "200ms"}, extra...)
	return testprog.Start(t, guestAgentBin, root, nil, guestServing, args...)
}

func startHostAgent(t *testing.T) *proc {
	t.Helper()
	return testprog.Start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0", "--interval", "200ms", "--allow-paths", os.TempDir(), "--discover=false")
}

// manager is a running bin/manager and its API's base URL.
type manager struct {
	*proc
	base   string
	token  string
	client *http.Client // nil: http.DefaultClient
}

// startManager runs the manager on a free loopback port with the test
// poll interval, guests allowed on loopback, and dbURL ("" for SQLite in a
// new directory).
func startManager(t *testing.T, dbURL string, extra ...string) *manager {
	t.Helper()
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--poll-interval", pollInterval.String(),
		"--guest-allow-cidrs", "127.0.0.0/8"}, extra...)
	p := testprog.Start(t, managerBin, t.TempDir(), []string{"DATABASE_URL=" + dbURL}, managerServing, args...)
	return &manager{proc: p, base: "http://" + p.Addr}
}

// startVMM starts an idle process standing for a VMM.
func startVMM(t *testing.T) int { return testprog.StartIdle(t) }

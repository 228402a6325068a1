package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fcmon/fcmon/internal/testsupport/demo"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// pollInterval is the manager's --poll-interval, as in make run.
const pollInterval = time.Second

// system is a manager, a host agent and the demo's guests.
type system struct {
	t            *testing.T // the whole test: what it starts lives as long
	dataDir      string
	managerPort  int
	manager      *program
	host         *program
	hostAgentURL string
	client       *demo.Client
	guests       []*guest
	// secret is the manager's --registration-secret-file: each guest
	// registers with its own VM's credential, derived from it.
	secret string
}

// guest is one booted demo guest.
type guest struct {
	demo.Guest
	id       string
	hostPort int // 127.0.0.1 port forwarded to its agent
	vm       *vmtest.VM
}

// startSystem starts everything the way make run does and returns once both
// guests are up. It skips when QEMU, socat or the guest assets are missing.
func startSystem(t *testing.T) *system {
	t.Helper()
	vmtest.Require(t, vmtest.DefaultAssets())
	if err := vmtest.Available(vmtest.Config{GuestForwards: []vmtest.GuestForward{{Port: 1, HostPort: 1}}}); err != nil {
		t.Skipf("%v", err)
	}
	s := &system{t: t, dataDir: t.TempDir()}
	s.secret = filepath.Join(s.dataDir, "registration.secret")
	if err := os.WriteFile(s.secret, []byte("an e2e registration secret, 32 bytes or more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.managerPort, err = demo.FreePort(); err != nil {
		t.Fatal(err)
	}
	s.client = demo.NewClient(fmt.Sprintf("http://127.0.0.1:%d", s.managerPort))
	s.startManager()
	hostPort, err := demo.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s.hostAgentURL = fmt.Sprintf("http://127.0.0.1:%d", hostPort)
	s.host = startProgram(t, hostAgentBin, s.hostAgentURL+"/health",
		"--listen", fmt.Sprintf("127.0.0.1:%d", hostPort), "--interval", "1s")

	s.guests = make([]*guest, len(demo.Guests))
	errs := make([]error, len(demo.Guests))
	var wg sync.WaitGroup
	for i, g := range demo.Guests {
		wg.Go(func() { s.guests[i], errs[i] = s.boot(t, g) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", demo.Guests[i].Name, err)
		}
		t.Logf("%s booted in %v (QEMU pid %d)", s.guests[i].Name, s.guests[i].vm.BootTime.Round(time.Millisecond), s.guests[i].vm.PID())
	}
	return s
}

// startManager starts (or restarts) the manager on its port and database, for
// the rest of the whole test.
func (s *system) startManager() {
	s.t.Helper()
	s.manager = startProgram(s.t, managerBin, s.client.Base+"/healthz",
		"--listen", fmt.Sprintf("127.0.0.1:%d", s.managerPort), "--data-dir", s.dataDir,
		"--poll-interval", pollInterval.String(), "--guest-allow-cidrs", "127.0.0.0/8",
		"--registration-secret-file", s.secret,
		// The guests register through QEMU's forward at this address.
		"--allowed-hosts", vmtest.ServiceIP)
}

// boot launches one guest, registered with the manager before it starts; it
// runs on a goroutine, so it returns errors rather than failing t.
func (s *system) boot(t *testing.T, g demo.Guest) (*guest, error) {
	port, err := demo.FreePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	out := &guest{Guest: g, id: uuid.NewString(), hostPort: port}
	cfg, err := g.VMConfig(guestAgentBin, dir, out.id, s.managerPort, port)
	if err != nil {
		return nil, err
	}
	// The VM's registration credential, as a launcher gets it, on the
	// kernel command line: the guest holds no other credential.
	cred, err := exec.Command(managerBin, "registration-token", "--registration-secret-file", s.secret, out.id).Output()
	if err != nil {
		return nil, fmt.Errorf("manager registration-token: %w", err)
	}
	cfg.KernelArgs = append(cfg.KernelArgs, "guest_agent.register_token="+strings.TrimSpace(string(cred)))
	cfg.BeforeBoot = func(pid int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.client.Register(ctx, demo.VM{ID: out.id, Name: g.Name, HostAgentURL: s.hostAgentURL, VMMPID: pid})
	}
	vm, err := vmtest.Launch(context.Background(), cfg, dir)
	if err != nil {
		return nil, err
	}
	out.vm = vm
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			log, _ := vm.Run(ctx, "tail -n 30 "+vmtest.GuestAgentLog)
			cancel()
			t.Logf("%s: %s (tail):\n%s", g.Name, vmtest.GuestAgentLog, log)
		}
		if err := vm.Stop(); err != nil {
			t.Errorf("%s: %v", g.Name, err)
		}
	})
	return out, nil
}

// run runs a shell command in the guest, failing t on error.
func (g *guest) run(t *testing.T, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := g.vm.Run(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	return out
}

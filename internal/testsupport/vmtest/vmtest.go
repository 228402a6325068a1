// Package vmtest boots throwaway Linux guests under QEMU (TCG) for tests that need a real
// kernel: Debian's kernel and busybox from the cache scripts/vm-assets.sh fills, an
// initramfs holding the guest agent and any extra files, user-mode networking with the
// agent's port forwarded to 127.0.0.1, and a serial console through which a test runs
// shell commands in the guest. Every guest is bounded in time and dies with its test.
package vmtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// DefaultAgentArgs are the agent flags /init uses when Config.AgentArgs is empty.
var DefaultAgentArgs = []string{"--listen", "0.0.0.0:" + strconv.Itoa(wire.DefaultGuestPort), "--interval", "1s"}

// Config describes one guest. The zero value boots a 1-vCPU, 256 MiB guest without agent.
type Config struct {
	// Agent is the host path of the guest-agent binary, copied to GuestAgentPath.
	// Empty: the guest has no agent (a test may install one itself).
	Agent string
	// StartAgent makes /init start the agent, after networking is up, with AgentArgs
	// (DefaultAgentArgs when empty), logging to GuestAgentLog.
	StartAgent bool
	AgentArgs  []string
	// MemoryMiB is the guest's RAM (-m); 0 means 256.
	MemoryMiB int
	// CPUs is the number of vCPUs (-smp); 0 means 1.
	CPUs int
	// DiskMiB, when positive, attaches a sparse raw disk of that size as /dev/vda.
	DiskMiB int
	// RootImage, when set, attaches that ext4 image as /dev/vda instead, and
	// /init, once the modules and the network are up, switches to it as the
	// root file system and runs its /sbin/init: the image then boots as a
	// VM's rootfs would. Its init must print ConsoleReady and serve
	// ConsoleLoop on ttyS0 (see ConsoleScript) for Boot to return.
	RootImage string
	// KernelArgs are appended to the kernel command line, e.g. guest_agent.vm_id=ID.
	KernelArgs []string
	// Files maps absolute guest paths to host files put into the initramfs (mode kept).
	Files map[string]string
	// GuestPort is the guest TCP port forwarded to a free 127.0.0.1 port; 0 means wire.DefaultGuestPort.
	GuestPort int
	// BootTimeout bounds the boot up to the console shell; 0 means 3 minutes. A boot
	// takes 5–8 s on an idle machine, but TCG needs ~5 s of CPU that a loaded host
	// may hand out slowly.
	BootTimeout time.Duration
	// Assets is where the kernel, modules and busybox are; zero means DefaultAssets().
	Assets Assets

	// HostPort, when positive, is the 127.0.0.1 port forwarded to GuestPort, so a
	// caller can put it on the kernel command line (guest_agent.advertise=); 0 picks
	// a free port.
	HostPort int
	// Restrict isolates the guest (QEMU's -netdev user,restrict=on): it reaches
	// nothing outside the VM but the GuestForwards, and QEMU's own HostIP, which
	// still answers ping.
	Restrict bool
	// GuestForwards are TCP services the guest reaches at ServiceIP:Port, each
	// relayed to a 127.0.0.1 port of the host by socat, one process per connection
	// (QEMU's guestfwd). With Restrict they are the guest's only way out.
	GuestForwards []GuestForward
	// Env is added to QEMU's environment (LD_PRELOAD of a shim, say).
	Env []string
	// ExtraFiles are inherited by QEMU as descriptors 3, 4, ... (sockets a
	// launcher created and serves itself, say).
	ExtraFiles []*os.File
	// Name, when set, names the guest (-name) with debug-threads=on, so
	// QEMU names its vCPU threads "CPU N/TCG".
	Name string
	// QMP opens QEMU's machine protocol on a Unix socket (VM.QMPPath).
	QMP bool
	// Balloon adds a virtio-balloon device (id balloon0) and loads the
	// guest's virtio_balloon driver.
	Balloon bool
	// BeforeBoot, when set, runs once QEMU is running and before the guest starts
	// (QEMU waits for the console), with QEMU's pid; an error aborts the boot.
	// Launchers use it to register the VM before its agent can register itself.
	BeforeBoot func(qemuPID int) error
}

// GuestForward is one service of the host offered to the guest at ServiceIP:Port.
type GuestForward struct {
	// Port is the port the guest connects to at ServiceIP.
	Port int
	// HostPort is the 127.0.0.1 port of the host the connection is relayed to.
	HostPort int
}

func (c *Config) setDefaults() {
	if len(c.AgentArgs) == 0 {
		c.AgentArgs = DefaultAgentArgs
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = 256
	}
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.GuestPort == 0 {
		c.GuestPort = wire.DefaultGuestPort
	}
	if c.BootTimeout == 0 {
		c.BootTimeout = 3 * time.Minute
	}
	if c.Assets.Dir == "" {
		c.Assets = DefaultAssets()
	}
}

// VM is a running guest. Its methods may be called from several goroutines; console
// commands run one at a time.
type VM struct {
	t        testing.TB // nil for a guest from Launch
	port     int
	sock     string
	sockDir  string
	pidfile  string
	proc     *process
	console  *console
	stopOnce sync.Once
	stopErr  error

	// BootTime is how long the guest took from QEMU's start to a ready console.
	BootTime time.Duration
}

// Boot starts a guest for cfg and waits until its console shell is ready. It skips t
// when QEMU or the assets are missing, fails t when the guest does not boot within
// cfg.BootTimeout, and stops the guest when t ends (passed, failed or panicked).
func Boot(t testing.TB, cfg Config) *VM {
	t.Helper()
	cfg.setDefaults()
	Require(t, cfg.Assets)
	if cfg.Restrict && len(cfg.GuestForwards) > 0 {
		if _, err := exec.LookPath("socat"); err != nil {
			t.Skip("socat not found in PATH (QEMU's guestfwd runs it): run scripts/vm-assets.sh or apt-get install socat")
		}
	}
	vm, err := Launch(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	vm.t = t
	t.Cleanup(vm.cleanup)
	t.Logf("vmtest: guest booted in %v (agent forwarded to %s)", vm.BootTime.Round(time.Millisecond), vm.AgentURL())
	return vm
}

// cleanup runs when the test ends: on failure it logs the agent's log and the console,
// then stops the guest.
func (vm *VM) cleanup() {
	if vm.t != nil && vm.t.Failed() && vm.console != nil && vm.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, _, err := vm.console.run(ctx, "cat "+GuestAgentLog+" 2>/dev/null | tail -n 40")
		cancel()
		if err == nil && out != "" {
			vm.t.Logf("vmtest: %s (tail):\n%s", GuestAgentLog, out)
		}
		vm.t.Logf("vmtest: console (tail):\n%q", vm.console.tail(2048))
	}
	if err := vm.Stop(); err != nil {
		vm.t.Errorf("vmtest: %v", err)
	}
}

func (vm *VM) running() bool {
	if vm.proc == nil {
		return false
	}
	select {
	case <-vm.proc.exited:
		return false
	default:
		return true
	}
}

// Stop powers the guest off (SIGTERM, SIGKILL after 3 s) and waits for QEMU to exit.
// It is safe to call more than once; Boot arranges for it to run when the test ends.
func (vm *VM) Stop() error {
	vm.stopOnce.Do(func() {
		if vm.console != nil {
			vm.console.release()
		}
		if vm.proc != nil {
			vm.stopErr = vm.proc.stop(3 * time.Second)
		}
		_ = os.Remove(vm.pidfile)
		if vm.sockDir != "" {
			_ = os.RemoveAll(vm.sockDir)
		}
	})
	return vm.stopErr
}

// Run executes the shell command cmd in the guest and returns its combined stdout and
// stderr. A non-zero exit status gives an *ExitError along with the output. Without a
// deadline in ctx the command is bounded to one minute. cmd runs in a subshell with
// stdin from /dev/null: variables and cd do not carry over, background jobs do.
func (vm *VM) Run(ctx context.Context, cmd string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	if !vm.running() {
		return "", errors.New("guest is not running")
	}
	out, status, err := vm.console.run(ctx, cmd)
	if err != nil {
		return out, err
	}
	if status != 0 {
		return out, &ExitError{Command: cmd, Status: status, Output: out}
	}
	return out, nil
}

// MustRun is Run bounded to one minute that fails the test on any error. Call it only
// from the test's goroutine, and only on a guest from Boot (one from Launch panics).
func (vm *VM) MustRun(cmd string) string {
	vm.t.Helper()
	out, err := vm.Run(context.Background(), cmd)
	if err != nil {
		vm.t.Fatalf("vmtest: %v", err)
	}
	return out
}

// QMPPath is the Unix socket of QEMU's machine protocol (Config.QMP).
func (vm *VM) QMPPath() string { return filepath.Join(vm.sockDir, "qmp.sock") }

// AgentURL is the host-side base URL of the guest's forwarded port, e.g. http://127.0.0.1:40123.
func (vm *VM) AgentURL() string { return fmt.Sprintf("http://127.0.0.1:%d", vm.port) }

// HostPort is the 127.0.0.1 port forwarded to Config.GuestPort in the guest.
func (vm *VM) HostPort() int { return vm.port }

// ReleaseConsole disconnects the harness from the console and returns the path of its
// Unix socket, so another client (socat, a deploy script) can use it. The next Run
// reconnects; output written while nobody is connected is lost.
func (vm *VM) ReleaseConsole() string {
	vm.console.release()
	return vm.sock
}

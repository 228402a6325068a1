package vmtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

var bootSeq atomic.Int64

// Available reports what a guest needs and is missing: QEMU, socat when cfg relays
// services into the guest, or the cached assets. nil when nothing is missing.
func Available(cfg Config) error {
	cfg.setDefaults()
	if _, err := exec.LookPath(qemuBinary); err != nil {
		return fmt.Errorf("%s not found in PATH (scripts/vm-assets.sh installs qemu-system-x86)", qemuBinary)
	}
	if len(cfg.GuestForwards) > 0 {
		if _, err := exec.LookPath("socat"); err != nil {
			return errors.New("socat not found in PATH (scripts/vm-assets.sh installs it)")
		}
	}
	if err := cfg.Assets.Check(); err != nil {
		return fmt.Errorf("%w (scripts/vm-assets.sh fetches the guest kernel, modules and busybox)", err)
	}
	return nil
}

// Launch boots a guest for cfg outside of a test, keeping its initramfs and disk in
// dir, and returns once its console shell is ready or with an error once the boot
// failed, ctx ended or cfg.BootTimeout passed (QEMU is then stopped). The caller owns
// the guest: Stop ends it. QEMU also dies with the calling process (Pdeathsig).
func Launch(ctx context.Context, cfg Config, dir string) (*VM, error) {
	cfg.setDefaults()
	if err := Available(cfg); err != nil {
		return nil, err
	}
	reapOrphans()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := buildInitramfs(initrd, cfg, cfg.Assets); err != nil {
		return nil, err
	}
	disk := cfg.RootImage
	if disk == "" && cfg.DiskMiB > 0 {
		disk = filepath.Join(dir, "disk.raw")
		if err := createDisk(disk, cfg.DiskMiB); err != nil {
			return nil, err
		}
	}
	// Unix socket paths are limited to 108 bytes, which dir can exceed.
	sockDir, err := os.MkdirTemp("", "vmtest-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir(), 0o755); err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	vm := &VM{sock: filepath.Join(sockDir, "console.sock"), sockDir: sockDir}
	vm.pidfile = filepath.Join(runDir(), fmt.Sprintf("%d-%d.pid", os.Getpid(), bootSeq.Add(1)))
	start := time.Now()
	if err := vm.start(cfg, initrd, disk); err != nil {
		vm.Stop()
		return nil, fmt.Errorf("booting guest: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.BootTimeout)
	defer cancel()
	go func() { // a QEMU that exits (a bad option, say) ends the wait at once
		select {
		case <-vm.proc.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := vm.console.waitReady(ctx); err != nil {
		err = fmt.Errorf("guest console not ready within %v: %w\nconsole:\n%s\nqemu: %s",
			cfg.BootTimeout, err, vm.console.tail(4096), vm.proc.stderr.String())
		vm.Stop()
		return nil, err
	}
	vm.BootTime = time.Since(start)
	return vm, nil
}

// start launches QEMU, runs cfg.BeforeBoot and connects the console, which lets the
// guest start. Without a fixed cfg.HostPort it retries with another port when the
// host forward cannot bind (another process took the port in between).
func (vm *VM) start(cfg Config, initrd, disk string) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := cfg.HostPort
		if port <= 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		_ = os.Remove(vm.sock)
		args := qemuArgs(cfg, cfg.Assets.Kernel(), initrd, vm.sock, disk, vm.pidfile, vm.QMPPath(), port)
		p, err := startQEMU(args, cfg.Env, cfg.ExtraFiles)
		if err != nil {
			return err
		}
		vm.proc, vm.port = p, port
		if lastErr = waitSocket(p, vm.sock, 15*time.Second); lastErr != nil {
			_ = p.stop(time.Second)
			if strings.Contains(lastErr.Error(), "forwarding") && cfg.HostPort <= 0 {
				continue
			}
			return lastErr
		}
		if cfg.BeforeBoot != nil {
			if err := cfg.BeforeBoot(p.cmd.Process.Pid); err != nil {
				return err
			}
		}
		vm.console = newConsole(vm.sock)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return vm.console.connect(ctx)
	}
	return lastErr
}

// PID is the process id of the guest's QEMU, which a host agent can watch as the VMM.
func (vm *VM) PID() int { return vm.proc.cmd.Process.Pid }

// Exited is closed once the guest's QEMU has exited.
func (vm *VM) Exited() <-chan struct{} { return vm.proc.exited }

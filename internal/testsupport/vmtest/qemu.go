package vmtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const qemuBinary = "qemu-system-x86_64"

// qemuArgs returns the QEMU command line for one guest. TCG is used even where /dev/kvm
// exists: nested KVM hangs during boot on the machines this project runs on.
func qemuArgs(cfg Config, kernel, initrd, sock, disk, pidfile, qmp string, hostPort int) []string {
	cmdline := append([]string{"console=ttyS0,115200", "quiet", "loglevel=3", "panic=-1"}, cfg.KernelArgs...)
	args := []string{
		"-accel", "tcg,thread=multi",
		"-machine", "pc",
		"-cpu", "max",
		"-m", strconv.Itoa(cfg.MemoryMiB),
		"-smp", strconv.Itoa(cfg.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", kernel,
		"-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
		// wait=on: QEMU starts the guest only once the harness is connected, so no
		// console output (the ready marker in particular) is lost.
		"-chardev", "socket,id=c0,path=" + sock + ",server=on,wait=on",
		"-serial", "chardev:c0",
		"-netdev", netdevArg(cfg, hostPort),
		"-device", "virtio-net-pci,netdev=n0",
		"-pidfile", pidfile,
	}
	if disk != "" {
		args = append(args, "-drive", "file="+disk+",format=raw,if=virtio,id=rootfs")
	}
	if cfg.Name != "" {
		args = append(args, "-name", cfg.Name+",debug-threads=on")
	}
	if cfg.QMP {
		args = append(args, "-qmp", "unix:"+qmp+",server=on,wait=off")
	}
	if cfg.Balloon {
		args = append(args, "-device", "virtio-balloon-pci,id=balloon0")
	}
	return args
}

// netdevArg is the user-mode network of a guest: the agent's port forwarded from the
// host's loopback, and with cfg.Restrict nothing else but cfg.GuestForwards. Only
// loopback addresses of the host are ever named.
func netdevArg(cfg Config, hostPort int) string {
	arg := fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:%d", hostPort, cfg.GuestPort)
	if cfg.Restrict {
		arg += ",restrict=on"
	}
	for _, f := range cfg.GuestForwards {
		// QEMU splits -netdev options at commas and runs cmd: through /bin/sh.
		arg += fmt.Sprintf(",guestfwd=tcp:%s:%d-cmd:socat STDIO TCP4:127.0.0.1:%d", ServiceIP, f.Port, f.HostPort)
	}
	return arg
}

// process is a running QEMU.
type process struct {
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan struct{} // closed once Wait has returned
	waitErr error
}

// startQEMU starts QEMU with args. The child gets SIGKILL when the test process dies
// (Pdeathsig), so a panicking or killed test never leaves a guest behind. It has its
// own process group: a Ctrl-C at the terminal reaches its parent, which stops it in
// order, rather than killing it behind the parent's back.
func startQEMU(args, env []string, files []*os.File) (*process, error) {
	cmd := exec.Command(qemuBinary, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.ExtraFiles = files
	p := &process{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", qemuBinary, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop ends QEMU: SIGTERM, then SIGKILL after grace. It returns once QEMU has exited or
// after a bounded wait for the kill.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("qemu pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. QEMU binds it
// later; Boot retries with another port if the bind fails.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitSocket waits until QEMU has created the console socket, failing early if QEMU
// exits first.
func waitSocket(p *process, sock string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("qemu exited before creating its console socket: %w: %s",
				p.waitErr, strings.TrimSpace(p.stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("qemu did not create its console socket within " + timeout.String())
}

// runDir returns the folder holding each running guest's pidfile, shared by all test
// processes of the machine so a later run can reap guests an earlier one left behind.
func runDir() string { return filepath.Join(os.TempDir(), "fcmon-vmtest") }

// reapOrphans kills guests whose test process is gone. Pidfiles are named
// <test pid>-<n>.pid; a QEMU is killed only if its command line names that pidfile,
// so an unrelated process that reused the pid is never touched.
func reapOrphans() {
	files, _ := filepath.Glob(filepath.Join(runDir(), "*.pid"))
	for _, f := range files {
		owner, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "-", 2)[0])
		if err != nil || owner == os.Getpid() || syscall.Kill(owner, 0) == nil {
			continue
		}
		data, err := os.ReadFile(f)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if err == nil && perr == nil && pid > 1 {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Contains(cmdline, []byte(f)) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.Remove(f)
	}
}

// syncBuffer is a bytes.Buffer safe for QEMU's output goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// createDisk creates a sparse raw disk image of sizeMiB, which the guest sees as /dev/vda.
func createDisk(path string, sizeMiB int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating disk image: %w", err)
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		f.Close()
		return fmt.Errorf("sizing disk image: %w", err)
	}
	return f.Close()
}

// Package jail starts programs as Firecracker's jailer leaves them, for
// tests of what a host agent running as root may open: inside a directory
// that becomes their root, in a mount namespace of their own, as an
// unprivileged user. Chroot is the plain kind (the host reads the jail's
// directory through /proc/PID/root); Pivot is the jailer's own (pivot_root,
// so /proc/PID/root reads "/" from the host).
package jail

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// Mode is how the jail is made.
type Mode int

const (
	// None: no jail, the program runs on the host's root (as uid).
	None Mode = iota
	// Chroot: chroot into the directory, in a mount namespace of its own.
	Chroot
	// Pivot: the jailer's pivot_root into the directory.
	Pivot
)

// Nobody is the uid and gid of the unprivileged user the attacks run as.
const Nobody = 65534

var (
	execOnce sync.Once
	execBin  string
	execErr  error
)

// Command returns the command running prog (its path inside dir for a
// jail, on the host for None) with args, as uid and gid, jailed in dir by
// mode. It skips the test, saying why, unless it runs as root.
func Command(t *testing.T, mode Mode, dir string, uid, gid int, prog string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("jailing a process needs root (chroot, mount namespaces, setuid)")
	}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var cmd *exec.Cmd
	switch mode {
	case Pivot:
		execOnce.Do(func() {
			d, err := os.MkdirTemp("", "jailexec-")
			if err != nil {
				execErr = err
				return
			}
			execBin, execErr = testbuild.Build(d, "./test/jailexec", "jailexec")
		})
		if execErr != nil {
			t.Fatal(execErr)
		}
		cmd = exec.Command(execBin, append([]string{dir, strconv.Itoa(uid), strconv.Itoa(gid), prog}, args...)...)
		attr.Cloneflags = syscall.CLONE_NEWNS
	case Chroot:
		cmd = exec.Command(prog, args...)
		attr.Cloneflags = syscall.CLONE_NEWNS
		attr.Chroot = dir
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Dir = "/"
	default:
		cmd = exec.Command(prog, args...)
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	return cmd
}

// Install copies the static binary bin into dir as name, executable by
// everyone, and returns its path inside the jail ("/" + name).
func Install(t *testing.T, bin, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return "/" + name
}

// Dir makes a jail directory below parent, owned by uid and gid as the
// jailer leaves it (mode 0755), and returns it.
func Dir(t *testing.T, parent string, uid, gid int) string {
	t.Helper()
	dir := filepath.Join(parent, "root")
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "run")} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

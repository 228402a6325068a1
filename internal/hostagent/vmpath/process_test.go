package vmpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/jail"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeErr  error
)

// jailed starts a process posing as Firecracker as nobody, jailed in a
// directory below parent by mode, and returns its pid and jail directory.
func jailed(t *testing.T, mode jail.Mode, parent string) (int, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("jails need root")
	}
	fakeOnce.Do(func() {
		d, err := os.MkdirTemp("", "vmpath-fake-")
		if err != nil {
			fakeErr = err
			return
		}
		fakeBin, fakeErr = testbuild.Build(d, "./test/hostilefc", "firecracker")
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	dir := jail.Dir(t, parent, jail.Nobody, jail.Nobody)
	prog := jail.Install(t, fakeBin, dir, "firecracker")
	cmd := jail.Command(t, mode, dir, jail.Nobody, jail.Nobody, prog, "--api-sock", "/run/firecracker.socket")
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sock := filepath.Join(dir, "run", "firecracker.socket")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the jailed process did not start")
		}
	}
	return cmd.Process.Pid, dir
}

// TestProcessJails: a jailed process's paths resolve inside its jail,
// whatever ".." or absolute symlinks they hold, for a chroot and for the
// jailer's pivot_root (where /proc/PID/root reads "/"); its jail must lie
// below the allowed directories, and its files belong to it.
func TestProcessJails(t *testing.T) {
	for _, mode := range []struct {
		name string
		m    jail.Mode
	}{{"chroot", jail.Chroot}, {"pivot_root", jail.Pivot}} {
		t.Run(mode.name, func(t *testing.T) {
			base := t.TempDir()
			os.Chmod(base, 0o755)
			allow := filepath.Join(base, "srv")
			pid, dir := jailed(t, mode.m, filepath.Join(allow, "vm"))
			if mode.m == jail.Pivot {
				if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); link != "/" {
					t.Logf("after pivot_root the root link reads %q", link)
				}
			}
			r, err := Process("/proc", pid, jail.Nobody, []string{allow})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if !r.Jailed() || r.Dir() != dir {
				t.Fatalf("jailed %v in %q, want %q", r.Jailed(), r.Dir(), dir)
			}
			if _, err := r.Key("/run/firecracker.socket", Socket); err != nil {
				t.Errorf("its own socket: %v", err)
			}
			// The ways out of a jail: "..", absolute symlinks, relative ones.
			must(t, os.Symlink("/etc/shadow", filepath.Join(dir, "run", "m.fifo")))
			must(t, os.Symlink("../../../../../../etc/shadow", filepath.Join(dir, "run", "up.fifo")))
			for _, p := range []string{"/../../../../etc/shadow", "/run/m.fifo", "/run/up.fifo", "../../etc/shadow"} {
				if _, err := r.Resolve(p, Metrics); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %v, want it resolved inside the jail (where there is no /etc/shadow)", p, err)
				}
			}
			// Inside the jail it is the jail's file that is found, and
			// root's file there is not the VM's.
			must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "etc", "shadow"), []byte("jail\n"), 0o600))
			if _, err := r.Resolve("/run/m.fifo", Metrics); !errors.Is(err, ErrOwner) {
				t.Errorf("a root-owned file in the jail: %v", err)
			}
			must(t, os.Chown(filepath.Join(dir, "etc", "shadow"), jail.Nobody, jail.Nobody))
			m, err := r.OpenMetrics("/run/up.fifo", false)
			if err != nil {
				t.Fatalf("the jail's own file: %v", err)
			}
			b := make([]byte, 8)
			n, _ := m.File.Read(b)
			m.File.Close()
			if string(b[:n]) != "jail\n" {
				t.Errorf("read %q through the jail, want the jail's file", b[:n])
			}
			if want := fmt.Sprintf("/proc/%d/root/run/x", pid); r.Show("/run/x") != want {
				t.Errorf("shown as %q, want %q", r.Show("/run/x"), want)
			}
			// A jail outside the allowed directories is refused outright.
			if _, err := Process("/proc", pid, jail.Nobody, []string{filepath.Join(base, "elsewhere")}); !errors.Is(err, ErrOutside) {
				t.Errorf("a jail outside: %v", err)
			}
		})
	}
}

// TestProcessPlain: a process on the host's root resolves paths beneath
// the allowed directories, relative ones from its working directory.
func TestProcessPlain(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	must(t, os.Chdir(dir))
	defer os.Chdir(wd)
	must(t, syscall.Mkfifo(filepath.Join(dir, "m.fifo"), 0o600))
	r, err := Process("/proc", os.Getpid(), os.Geteuid(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Jailed() || r.Show("m.fifo") != filepath.Join(dir, "m.fifo") {
		t.Fatalf("jailed %v, shown %q", r.Jailed(), r.Show("m.fifo"))
	}
	if _, err := r.Key("m.fifo", Metrics); err != nil {
		t.Errorf("relative: %v", err)
	}
	if _, err := r.Key("/etc/passwd", Metrics); !errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), dir) {
		t.Errorf("/etc/passwd: %v", err)
	}
}

package fcmonctl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/deploy"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
)

// agentBin is a real static guest agent, built once for these tests.
var agentBin string

func guestAgent(t *testing.T) string {
	t.Helper()
	if agentBin == "" {
		bin, err := testbuild.Program(os.TempDir(), "guest-agent")
		if err != nil {
			t.Fatal(err)
		}
		agentBin = bin
	}
	return agentBin
}

func needE2fsprogs(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mke2fs", "debugfs", "e2fsck", "dumpe2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian's e2fsprogs; make test has it)", tool)
		}
	}
}

// mkImage makes an ext4 image of sizeMiB from a tree with files (path →
// contents; a value "->X" is a symlink to X), as mke2fs -d does.
func mkImage(t *testing.T, sizeMiB int, files map[string]string, mkfsArgs ...string) string {
	t.Helper()
	needE2fsprogs(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for p, body := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(body, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(body), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "rootfs.ext4")
	args := append(append([]string{"-q", "-F"}, mkfsArgs...), "-d", tree, img, strconv.Itoa(sizeMiB)+"M")
	if len(mkfsArgs) == 0 {
		args = append([]string{"-t", "ext4"}, args...)
	}
	if out, err := exec.Command("mke2fs", args...).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	return img
}

func sum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// install runs fcmonctl install-rootfs and returns stdout, stderr, status.
func install(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), append([]string{"install-rootfs"}, args...), func(string) string { return "" }, &out, &errOut, false)
	return out.String(), errOut.String(), code
}

func catImage(t *testing.T, img, p string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+p, img).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func files(t *testing.T, img string) string {
	t.Helper()
	out, _ := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " files (") {
			return strings.Fields(l)[1]
		}
	}
	t.Fatalf("e2fsck: %s", out)
	return ""
}

// TestInstallRootfsBusybox: busybox init gets the agent, a script that
// becomes it and one respawn line in the inittab it had; a second run
// replaces the files (same file count, one line) and keeps edited settings.
func TestInstallRootfsBusybox(t *testing.T) {
	img := mkImage(t, 32, map[string]string{"/bin/busybox": "\x7fELF stand-in", "/sbin/init": "->../bin/busybox",
		"/etc/inittab": "::sysinit:/etc/init.d/rcS\n"})
	agent := guestAgent(t)
	out, errOut, code := install(t, "--agent", agent, img)
	if code != 0 || !strings.Contains(out, "busybox init") {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	tab := catImage(t, img, "/etc/inittab")
	if tab != "::sysinit:/etc/init.d/rcS\n"+inittabMark+"\n"+inittabLine+"\n" {
		t.Errorf("inittab:\n%s", tab)
	}
	if got := catImage(t, img, "/etc/init.d/guest-agent"); got != busyboxScript {
		t.Errorf("the script:\n%s", got)
	}
	dumped := filepath.Join(t.TempDir(), "agent")
	exec.Command("debugfs", "-R", "dump "+deploy.GuestAgentPath+" "+dumped, img).Run()
	if sum(t, dumped) != sum(t, agent) {
		t.Error("the agent in the image is not the binary given")
	}
	before := files(t, img)
	// Settings edited in the image stay; the rest is written again.
	cmds := filepath.Join(t.TempDir(), "cmds")
	settings := filepath.Join(t.TempDir(), "settings")
	os.WriteFile(settings, []byte("GUEST_AGENT_INTERVAL=5s\n"), 0o644)
	os.WriteFile(cmds, []byte("rm /etc/default/guest-agent\nwrite "+settings+" /etc/default/guest-agent\n"), 0o644)
	exec.Command("debugfs", "-w", "-f", cmds, img).Run()
	if _, errOut, code := install(t, "--agent", agent, img); code != 0 {
		t.Fatalf("second install: %d %s", code, errOut)
	}
	if n := strings.Count(catImage(t, img, "/etc/inittab"), inittabLine); n != 1 {
		t.Errorf("the respawn line is in the inittab %d times after two runs", n)
	}
	if after := files(t, img); after != before {
		t.Errorf("files %s after the second run, %s after the first: something was duplicated", after, before)
	}
	if got := catImage(t, img, "/etc/default/guest-agent"); got != "GUEST_AGENT_INTERVAL=5s\n" {
		t.Errorf("the operator's settings were overwritten: %q", got)
	}
}

// TestInstallRootfsBusyboxNoInittab: without an inittab, busybox's own
// defaults are written with the agent's line (an inittab replaces them).
func TestInstallRootfsBusyboxNoInittab(t *testing.T) {
	img := mkImage(t, 32, map[string]string{"/bin/busybox": "x"})
	if _, errOut, code := install(t, "--agent", guestAgent(t), img); code != 0 {
		t.Fatal(errOut)
	}
	if tab := catImage(t, img, "/etc/inittab"); !strings.HasPrefix(tab, busyboxDefaults) || !strings.HasSuffix(tab, inittabLine+"\n") {
		t.Errorf("inittab:\n%s", tab)
	}
}

// TestInstallRootfsSystemdAndOpenRC: the unit enabled for multi-user, the
// OpenRC script in the default runlevel, both as deploy/ has them.
func TestInstallRootfsSystemdAndOpenRC(t *testing.T) {
	for _, tt := range []struct {
		init, marker, file, link, target string
		want                             []byte
	}{
		{"systemd", "/lib/systemd/systemd", "/etc/systemd/system/guest-agent.service",
			"/etc/systemd/system/multi-user.target.wants/guest-agent.service", "/etc/systemd/system/guest-agent.service", deploy.GuestAgentSystemd},
		{"openrc", "/sbin/openrc-run", "/etc/init.d/guest-agent", "/etc/runlevels/default/guest-agent", "/etc/init.d/guest-agent", deploy.GuestAgentOpenRC},
	} {
		t.Run(tt.init, func(t *testing.T) {
			img := mkImage(t, 32, map[string]string{tt.marker: "x", "/bin/busybox": "x"})
			out, errOut, code := install(t, "--agent", guestAgent(t), img)
			if code != 0 || !strings.Contains(out, tt.init+" init") {
				t.Fatalf("%d %s %s", code, out, errOut)
			}
			if got := catImage(t, img, tt.file); got != string(tt.want) {
				t.Errorf("%s differs from deploy/'s", tt.file)
			}
			st, _ := exec.Command("debugfs", "-R", "stat "+tt.link, img).Output()
			if !strings.Contains(string(st), `Fast link dest: "`+tt.target+`"`) {
				t.Errorf("%s: %s", tt.link, st)
			}
			for range 2 { // idempotent
				if _, errOut, code := install(t, "--agent", guestAgent(t), img); code != 0 {
					t.Fatal(errOut)
				}
			}
		})
	}
}

// TestInstallRootfsRefuses: an image that is not ext4, too full, in use,
// or not clean, and a binary that is not static, are refused with a clear
// error and leave the image as it was.
func TestInstallRootfsRefuses(t *testing.T) {
	needE2fsprogs(t)
	agent := guestAgent(t)
	notFS := filepath.Join(t.TempDir(), "random.img")
	os.WriteFile(notFS, bytes.Repeat([]byte("not a file system "), 100000), 0o644)
	ext2 := mkImage(t, 16, map[string]string{"/bin/busybox": "x"}, "-t", "ext2")
	small := mkImage(t, 2, map[string]string{"/bin/busybox": "x"})
	held := mkImage(t, 32, map[string]string{"/bin/busybox": "x"})
	noInit := mkImage(t, 32, map[string]string{"/etc/hostname": "vm"})
	for _, tt := range []struct {
		name, img, want string
		args            []string
		before          func()
	}{
		{"not a file system", notFS, "is not an ext4 file system", nil, nil},
		{"ext2", ext2, "is an ext2 or ext3 file system, not ext4", nil, nil},
		{"no room", small, "has no room", nil, nil},
		{"no init", noInit, "boots no init fcmonctl knows", nil, nil},
		{"dynamic binary", held, "is linked dynamically", []string{"--agent", "/usr/bin/env"}, nil},
		{"not a binary", held, "is not an ELF executable", []string{"--agent", notFS}, nil},
		{"no package", held, "install the fcmon-guest-agent package", []string{"--agent", defaultAgent}, nil},
		{"bad init", held, "is not systemd, openrc or busybox", []string{"--init", "runit"}, nil},
		{"missing image", filepath.Join(t.TempDir(), "nope.ext4"), "no such file", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before [32]byte
			if _, err := os.Stat(tt.img); err == nil {
				before = sum(t, tt.img)
			}
			args := tt.args
			if args == nil || args[0] == "--init" {
				args = append(append([]string{}, args...), "--agent", agent)
			}
			if tt.name == "no package" {
				if _, err := os.Stat(defaultAgent); err == nil {
					t.Skip(defaultAgent + " is installed here")
				}
			}
			out, errOut, code := install(t, append(args, tt.img)...)
			if code == 0 || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want a failure saying %q", code, errOut, out, tt.want)
			}
			if before != ([32]byte{}) && sum(t, tt.img) != before {
				t.Error("the refused image changed")
			}
		})
	}
	t.Run("in use", func(t *testing.T) {
		before := sum(t, held)
		// A process holding the image open, as a running Firecracker does.
		cmd := exec.Command("sleep", "30")
		f, err := os.Open(held)
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{f}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		_, errOut, code := install(t, "--agent", agent, held)
		if code == 0 || !strings.Contains(errOut, "is in use by process") || !strings.Contains(errOut, "(sleep)") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if sum(t, held) != before {
			t.Error("the image in use changed")
		}
	})
	t.Run("not clean", func(t *testing.T) {
		// The state a crash or a mount leaves: the journal needs recovery.
		img := mkImage(t, 32, map[string]string{"/bin/busybox": "x"})
		if out, err := exec.Command("debugfs", "-w", "-R", "feature needs_recovery", img).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		before := sum(t, img)
		_, errOut, code := install(t, "--agent", agent, img)
		if code == 0 || !strings.Contains(errOut, "was not cleanly unmounted") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if sum(t, img) != before {
			t.Error("the image changed")
		}
	})
}

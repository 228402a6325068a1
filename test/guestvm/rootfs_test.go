package guestvm

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// nobody is the unprivileged user install-rootfs runs as here: no root,
// no mount.
const nobody = "65534"

// TestInstallRootfsBoots: fcmonctl install-rootfs, run as an unprivileged
// user, bakes the guest agent into a fresh ext4 image that mke2fs -d made
// from a busybox tree. Attached as the root disk of a QEMU guest behind a
// Firecracker stand-in, the image boots; busybox init starts the agent
// from the line install-rootfs added, and a host agent discovers the VM
// and reads the guest over its vsock socket. A read-only image is refused
// and stays as it was.
func TestInstallRootfsBoots(t *testing.T) {
	vmtest.Require(t, vmtest.DefaultAssets())
	for _, tool := range []string{"mke2fs", "debugfs", "e2fsck", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (e2fsprogs, util-linux)", tool)
		}
	}
	// A directory nobody can read, holding what nobody works with.
	work := shortDir(t, "rootfs-")
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	ctl, err := testbuild.Program(work, "fcmonctl")
	if err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(work, "guest-agent")
	copyFile(t, vmtest.GuestAgent(t), agent, 0o755)

	// A busybox root: its init runs rcS, then the harness's console.
	tree := filepath.Join(t.TempDir(), "tree")
	for _, d := range []string{"bin", "sbin", "etc/init.d", "proc", "sys", "dev", "run", "tmp", "root", "var/log"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, vmtest.DefaultAssets().Busybox(), filepath.Join(tree, "bin/busybox"), 0o755)
	for _, l := range [][2]string{{"sbin/init", "../bin/busybox"}, {"bin/sh", "busybox"}} {
		if err := os.Symlink(l[1], filepath.Join(tree, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(tree, p), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/inittab", "::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/vmtest-console\n", 0o644)
	write("etc/init.d/rcS", "#!/bin/sh\n/bin/busybox --install -s\nmount -t tmpfs tmpfs /tmp\nhostname baked\n", 0o755)
	write("bin/vmtest-console", "#!/bin/sh\n"+vmtest.ConsoleScript, 0o755)
	img := filepath.Join(work, "rootfs.ext4")
	if out, err := exec.Command("mke2fs", "-q", "-t", "ext4", "-d", tree, "-F", img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	if err := os.Chown(img, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid", nobody, "--regid", nobody, "--clear-groups",
			"--inh-caps=-all", ctl, "install-rootfs", "--agent", agent}, args...)...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Read-only (to nobody): refused, unchanged.
	ro := filepath.Join(work, "ro.ext4")
	copyFile(t, img, ro, 0o444)
	os.Chown(ro, 65534, 65534)
	before := fileSum(t, ro)
	if out, err := asNobody(ro); err == nil || !strings.Contains(out, "is read-only here") {
		t.Errorf("a read-only image: %v: %s", err, out)
	}
	if fileSum(t, ro) != before {
		t.Error("the read-only image changed")
	}

	for run := 1; run <= 2; run++ { // the second updates in place
		out, err := asNobody(img)
		if err != nil || !strings.Contains(out, "busybox init, verified with debugfs and e2fsck") {
			t.Fatalf("install-rootfs as nobody (run %d): %v: %s", run, err, out)
		}
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck after two runs: %v: %s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := shortDir(t, "baked-")
	q, err := fcstandin.LaunchQEMU(ctx, fcstandin.QEMUOptions{ID: "vm-baked", Dir: filepath.Join(dir, "vm"), WorkDir: t.TempDir(),
		Guest: vmtest.Config{RootImage: img, MemoryMiB: 256}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop() })
	if host, err := q.Guest.Run(ctx, "hostname"); err != nil || strings.TrimSpace(host) != "baked" {
		diag, _ := q.Guest.Run(ctx, "ls -l /dev/vd* /newroot; mkdir -p /mnt; mount -t ext4 /dev/vda /mnt; dmesg | tail -20")
		t.Fatalf("the guest did not boot the image's init: %q %v\n%s", host, err, diag)
	}
	// Started by busybox init from the inittab line, not by the harness.
	if err := q.Guest.WaitAgent(ctx); err != nil {
		log, _ := q.Guest.Run(ctx, "cat /var/log/guest-agent.log; ps")
		t.Fatalf("the baked agent does not serve: %v\n%s", err, log)
	}
	ps, _ := q.Guest.Run(ctx, "ps -o ppid,args | grep '[u]sr/local/bin/guest-agent'")
	if !strings.HasPrefix(strings.TrimSpace(ps), "1 ") {
		t.Errorf("the agent is not init's child: %q", ps)
	}

	bin, err := testbuild.Program(t.TempDir(), "host-agent")
	if err != nil {
		t.Fatal(err)
	}
	h := testprog.Start(t, bin, t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0",
		"--interval", "1s", "--discover-scope", dir, "--allow-paths", dir)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var doc wire.HostSamples
		if resp, err := http.Get("http://" + h.Addr + "/v1/samples"); err == nil {
			json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
		}
		s := doc.VM("vm-baked")
		if s != nil && s.Guest != nil && s.Guest.MemoryTotalKB > 0 {
			if s.Guest.Transport != wire.TransportVsock {
				t.Errorf("the guest is read over %q, want vsock", s.Guest.Transport)
			}
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(s)
			t.Fatalf("the host agent does not read the baked guest over vsock: %s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Package dist tests the packages `make dist` builds: two builds give the
// same bytes; each .deb installs with dpkg into a Debian root made by
// debootstrap, with its files, user and unit, and removes cleanly; its
// units pass systemd-analyze verify in that root; the .rpm files are read
// with rpm and the .apk as the tar streams it is.
package dist

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// pkgs are the packages and the files each must install, with their modes.
var pkgs = map[string]map[string]os.FileMode{
	"fcmon-manager": {
		"/usr/bin/fcmon-manager": 0o755, "/usr/bin/fcmonctl": 0o755, "/lib/systemd/system/fcmon-manager.service": 0o644,
		"/etc/default/fcmon-manager": 0o640,
	},
	"fcmon-host-agent": {
		"/usr/bin/fcmon-host-agent": 0o755, "/lib/systemd/system/fcmon-host-agent.service": 0o644,
		"/etc/default/fcmon-host-agent": 0o640,
	},
	"fcmon-guest-agent": {
		"/usr/bin/fcmon-guest-agent": 0o755, "/lib/systemd/system/fcmon-guest-agent.service": 0o644,
	},
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("installing into a debootstrap root needs root (chroot)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: run scripts/install-deps.sh (make test does)", tool)
		}
	}
}

// TestPackages builds the packages twice and checks them.
func TestPackages(t *testing.T) {
	need(t, "dpkg", "dpkg-deb", "rpm", "debootstrap", "systemd-analyze", "sha256sum")
	repo, err := vmtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if _, err := testbuild.Programs(bin, "manager", "host-agent", "guest-agent", "fcmonctl"); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(t.TempDir(), "dist"), filepath.Join(t.TempDir(), "dist")
	for _, out := range []string{a, b} {
		cmd := exec.Command("go", "run", ".", "-root", repo, "-bin", bin, "-out", out)
		cmd.Dir = filepath.Join(repo, "tools", "dist")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tools/dist: %v\n%s", err, o)
		}
	}
	sumsA, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	sumsB, _ := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if len(sumsA) == 0 || !bytes.Equal(sumsA, sumsB) {
		t.Fatalf("two builds differ:\n%s\n%s", sumsA, sumsB)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = a
	if o, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, o)
	}
	t.Logf("reproducible:\n%s", sumsA)
	files := map[string]string{} // package and format → file
	for _, line := range strings.Split(strings.TrimSpace(string(sumsA)), "\n") {
		name := strings.Fields(line)[1]
		for p := range pkgs {
			if strings.HasPrefix(name, p+"_") || strings.HasPrefix(name, p+"-0") {
				files[p+"."+strings.TrimPrefix(filepath.Ext(name), ".")] = filepath.Join(a, name)
			}
		}
	}
	for _, want := range []string{"fcmon-manager.deb", "fcmon-manager.rpm", "fcmon-host-agent.deb", "fcmon-host-agent.rpm",
		"fcmon-guest-agent.deb", "fcmon-guest-agent.rpm", "fcmon-guest-agent.apk"} {
		if files[want] == "" {
			t.Fatalf("no %s among %v", want, files)
		}
	}

	t.Run("rpm", func(t *testing.T) {
		for p, want := range pkgs {
			out := run(t, "rpm", "-qpl", files[p+".rpm"])
			for f := range want {
				if !strings.Contains(out+"\n", f+"\n") {
					t.Errorf("%s lists no %s:\n%s", filepath.Base(files[p+".rpm"]), f, out)
				}
			}
			if name := run(t, "rpm", "-qp", "--queryformat", "%{NAME}", files[p+".rpm"]); name != p {
				t.Errorf("rpm name %q, want %q", name, p)
			}
			if s := run(t, "rpm", "-qp", "--scripts", files[p+".rpm"]); !strings.Contains(s, "daemon-reload") ||
				strings.Contains(s, "systemctl enable") || strings.Contains(s, "systemctl start") {
				t.Errorf("%s scripts: want a daemon-reload and no enable or start:\n%s", p, s)
			}
		}
	})
	t.Run("apk", func(t *testing.T) {
		names, info := readAPK(t, files["fcmon-guest-agent.apk"])
		for _, f := range []string{"usr/bin/fcmon-guest-agent", "etc/init.d/fcmon-guest-agent", "lib/systemd/system/fcmon-guest-agent.service", ".PKGINFO", ".post-install"} {
			if !names[f] {
				t.Errorf("the apk holds no %s: %v", f, names)
			}
		}
		if !strings.Contains(info, "pkgname = fcmon-guest-agent\n") || !strings.Contains(info, "arch = x86_64\n") {
			t.Errorf(".PKGINFO:\n%s", info)
		}
	})
	t.Run("deb", func(t *testing.T) {
		root := debianRoot(t)
		for _, p := range []string{"fcmon-manager", "fcmon-host-agent", "fcmon-guest-agent"} {
			deb := files[p+".deb"]
			if err := copyFile(deb, filepath.Join(root, "tmp", filepath.Base(deb))); err != nil {
				t.Fatal(err)
			}
			run(t, "chroot", root, "dpkg", "-i", "/tmp/"+filepath.Base(deb))
			if st := run(t, "chroot", root, "dpkg-query", "-W", "-f", "${Status}", p); st != "install ok installed" {
				t.Errorf("%s: dpkg status %q", p, st)
			}
			for f, mode := range pkgs[p] {
				fi, err := os.Stat(filepath.Join(root, f))
				if err != nil || fi.Mode().Perm() != mode {
					t.Errorf("%s: %s: %v, mode %v, want %v", p, f, err, fi.Mode().Perm(), mode)
				}
			}
		}
		// The fcmon system user, without a login; the settings readable by it.
		pw := run(t, "chroot", root, "getent", "passwd", "fcmon")
		if f := strings.Split(pw, ":"); len(f) != 7 || f[6] != "/usr/sbin/nologin" || f[5] != "/nonexistent" {
			t.Errorf("the fcmon user: %q", pw)
		}
		if g := run(t, "chroot", root, "stat", "-c", "%U:%G", "/etc/default/fcmon-manager"); g != "root:fcmon" {
			t.Errorf("/etc/default/fcmon-manager owned by %s, want root:fcmon", g)
		}
		// The command line runs as installed.
		if v := run(t, "chroot", root, "/usr/bin/fcmonctl", "--version"); !strings.HasPrefix(v, "fcmonctl ") {
			t.Errorf("fcmonctl --version in the installed root: %q", v)
		}
		// Nothing enabled: the operator enables what they want.
		if links, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*/fcmon-*")); len(links) > 0 {
			t.Errorf("the packages enabled %v", links)
		}
		// The units, as installed, with the system's units beside them.
		if err := exec.Command("cp", "-rn", "/lib/systemd/system/.", filepath.Join(root, "lib/systemd/system")).Run(); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"fcmon-manager", "fcmon-host-agent", "fcmon-guest-agent"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", "--root="+root,
				"/lib/systemd/system/"+u+".service").CombinedOutput()
			cancel()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
		}
		// Removed, the files go and the settings stay; purged, they go too.
		run(t, "chroot", root, "dpkg", "-r", "fcmon-manager")
		if _, err := os.Stat(filepath.Join(root, "usr/bin/fcmon-manager")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("removed, /usr/bin/fcmon-manager: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/default/fcmon-manager")); err != nil {
			t.Errorf("removed, the settings should stay: %v", err)
		}
		run(t, "chroot", root, "dpkg", "-P", "fcmon-manager")
		if _, err := os.Stat(filepath.Join(root, "etc/default/fcmon-manager")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("purged, /etc/default/fcmon-manager: %v", err)
		}
	})
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// readAPK lists an apk (gzip members of tar streams, read as one) and
// returns its .PKGINFO.
func readAPK(t *testing.T, path string) (map[string]bool, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	names, info := map[string]bool{}, ""
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
		if h.Name == ".PKGINFO" {
			b, _ := io.ReadAll(tr)
			info = string(b)
		}
	}
	return names, info
}

// debianRoot is a fresh copy of a minimal Debian root of this machine's
// release, made once with debootstrap from apt's configured mirror and kept
// in the cache.
func debianRoot(t *testing.T) string {
	t.Helper()
	suite, mirror := release(t)
	cache := os.Getenv("FCMON_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "fcmon")
	}
	kept := filepath.Join(cache, "debootstrap-"+suite+"-minbase")
	if _, err := os.Stat(filepath.Join(kept, "usr/bin/dpkg")); err != nil {
		tmp := kept + ".new"
		os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		began := time.Now()
		out, err := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", suite, tmp, mirror).CombinedOutput()
		if err != nil {
			os.RemoveAll(tmp)
			t.Fatalf("debootstrap %s from %s: %v\n%s", suite, mirror, err, tail(out))
		}
		t.Logf("debootstrap --variant=minbase %s: %v", suite, time.Since(began).Round(time.Second))
		if err := os.Rename(tmp, kept); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", kept, root).CombinedOutput(); err != nil {
		t.Fatalf("copying the root: %v\n%s", err, out)
	}
	return root
}

// release is this machine's Debian suite and apt's first mirror of it.
func release(t *testing.T) (suite, mirror string) {
	t.Helper()
	b, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VERSION_CODENAME="); ok {
			suite = strings.Trim(v, `"`)
		}
	}
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() && mirror == "" {
			w := strings.Fields(sc.Text())
			switch {
			case len(w) >= 2 && w[0] == "URIs:" && !strings.Contains(w[1], "security"):
				mirror = w[1]
			case len(w) >= 3 && w[0] == "deb" && w[2] == suite:
				mirror = w[1]
			}
		}
		fh.Close()
	}
	if suite == "" || mirror == "" {
		t.Skipf("no Debian release or apt mirror found here (suite %q, mirror %q): debootstrap needs both", suite, mirror)
	}
	return suite, mirror
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

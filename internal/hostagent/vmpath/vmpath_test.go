package vmpath

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree is an allowed directory and one beside it, with the kinds of file
// a VM may name and the ways out an attacker would try.
type tree struct{ allow, other, outside string }

func newTree(t *testing.T) tree {
	t.Helper()
	base := t.TempDir()
	tr := tree{allow: filepath.Join(base, "allow"), other: filepath.Join(base, "other"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{tr.allow, tr.other, tr.outside, filepath.Join(tr.allow, "dir")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(tr.outside, "secret"), []byte("root:x:0:0\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(tr.allow, "regular"), []byte("{}\n"), 0o600))
	must(t, syscall.Mkfifo(filepath.Join(tr.allow, "m.fifo"), 0o600))
	must(t, syscall.Mkfifo(filepath.Join(tr.other, "o.fifo"), 0o600))
	must(t, os.Symlink(filepath.Join(tr.outside, "secret"), filepath.Join(tr.allow, "to-secret")))
	must(t, os.Symlink("../outside/secret", filepath.Join(tr.allow, "rel-to-secret")))
	must(t, os.Symlink(filepath.Join(tr.other, "o.fifo"), filepath.Join(tr.allow, "to-other")))
	must(t, os.Symlink("m.fifo", filepath.Join(tr.allow, "to-fifo")))
	must(t, os.Symlink("/proc/self/root"+filepath.Join(tr.outside, "secret"), filepath.Join(tr.allow, "magic")))
	return tr
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func listen(t *testing.T, path string) net.Listener {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestHostRootConfines: on the host's root a path must resolve beneath an
// allowed directory, whatever "..", symlinks or magic links it holds, and
// name the expected kind.
func TestHostRootConfines(t *testing.T) {
	tr := newTree(t)
	listen(t, filepath.Join(tr.allow, "api.sock"))
	r := Host([]string{tr.allow, tr.other}, AnyOwner)
	for _, tc := range []struct {
		name string
		kind Kind
		want error // nil: resolves
	}{
		{"m.fifo", Metrics, nil},
		{"regular", Metrics, nil},
		{"to-fifo", Metrics, nil},
		{"to-other", Metrics, nil}, // one allowed directory into another
		{"api.sock", Socket, nil},
		{"to-secret", Metrics, ErrOutside},
		{"rel-to-secret", Metrics, ErrOutside},
		{"magic", Metrics, ErrOutside},
		{"../outside/secret", Metrics, ErrOutside},
		{"dir/../../outside/secret", Metrics, ErrOutside},
		{"dir", Metrics, ErrKind},
		{"regular", Socket, ErrKind},
		{"m.fifo", Socket, ErrKind},
		{"absent.sock", Socket, fs.ErrNotExist},
	} {
		f, err := r.Resolve(filepath.Join(tr.allow, tc.name), tc.kind)
		if f != nil {
			f.Close()
		}
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, p := range []string{filepath.Join(tr.outside, "secret"), "/etc/passwd", tr.allow + "x/y"} {
		if _, err := r.Resolve(p, Metrics); !errors.Is(err, ErrOutside) {
			t.Errorf("%s: %v, want it outside", p, err)
		}
	}
	if _, err := r.Resolve("relative", Metrics); err == nil {
		t.Error("a relative path with no working directory resolved")
	}
}

// TestOwners: a Root with an owner refuses another user's files.
func TestOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	tr := newTree(t)
	mine, theirs := filepath.Join(tr.allow, "mine.fifo"), filepath.Join(tr.allow, "theirs.fifo")
	must(t, syscall.Mkfifo(mine, 0o600))
	must(t, syscall.Mkfifo(theirs, 0o600))
	must(t, os.Chown(mine, 4321, 4321))
	must(t, os.Chown(theirs, 65534, 65534))
	r := Host([]string{tr.allow}, 4321)
	if _, err := r.Key(mine, Metrics); err != nil {
		t.Errorf("the VM's own file: %v", err)
	}
	if _, err := r.Key(filepath.Join(tr.allow, "m.fifo"), Metrics); err != nil {
		t.Errorf("root's file, for an attached VM: %v", err)
	}
	if _, err := r.Key(theirs, Metrics); !errors.Is(err, ErrOwner) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("another user's file: %v", err)
	}
}

// TestDial connects through the checked descriptor, and refuses what is
// not a socket beneath the roots.
func TestDial(t *testing.T) {
	tr := newTree(t)
	ln := listen(t, filepath.Join(tr.allow, "api.sock"))
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	listen(t, filepath.Join(tr.outside, "root-only.sock"))
	must(t, os.Symlink(filepath.Join(tr.outside, "root-only.sock"), filepath.Join(tr.allow, "to-root-only.sock")))
	r := Host([]string{tr.allow}, AnyOwner)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := r.Dial(ctx, filepath.Join(tr.allow, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := c.Read(b); err != nil || string(b) != "hello" {
		t.Errorf("read %q, %v", b, err)
	}
	c.Close()
	if _, err := r.Dial(ctx, filepath.Join(tr.allow, "to-root-only.sock")); !errors.Is(err, ErrOutside) {
		t.Errorf("a symlink to a socket outside: %v", err)
	}
}

// TestOpenMetrics: a FIFO is made only when asked, in the directory that
// passed the checks; a regular file is read as such; a device never.
func TestOpenMetrics(t *testing.T) {
	tr := newTree(t)
	r := Host([]string{tr.allow}, AnyOwner)
	p := filepath.Join(tr.allow, "new.fifo")
	if _, err := r.OpenMetrics(p, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent, not to be created: %v", err)
	}
	if _, err := os.Lstat(p); err == nil {
		t.Fatal("a FIFO was made without being asked")
	}
	m, err := r.OpenMetrics(p, true)
	if err != nil || m.Kind != KindFIFO || !m.Created {
		t.Fatalf("created: %+v, %v", m, err)
	}
	m.File.Close()
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the FIFO made: %v, %v", fi, err)
	}
	if m, err := r.OpenMetrics(filepath.Join(tr.allow, "regular"), false); err != nil || m.Kind != KindFile || m.Created {
		t.Errorf("regular: %+v, %v", m, err)
	} else {
		m.File.Close()
	}
	if _, err := r.OpenMetrics(filepath.Join(tr.outside, "x.fifo"), true); !errors.Is(err, ErrOutside) {
		t.Errorf("created outside: %v", err)
	}
	if _, err := r.OpenMetrics(filepath.Join(tr.allow, "to-secret"), true); !errors.Is(err, ErrOutside) {
		t.Errorf("through a symlink out: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(tr.outside, "x.fifo")); err == nil {
		t.Error("a FIFO was made outside the allowed directories")
	}
	dev := Host([]string{"/dev"}, AnyOwner)
	if _, err := dev.OpenMetrics("/dev/null", false); !errors.Is(err, ErrKind) {
		t.Errorf("a device: %v", err)
	}
}

func TestParseMountinfo(t *testing.T) {
	in := "65 44 254:0 /tmp/jt/root / rw,relatime - ext4 /dev/vda rw\n" +
		"22 1 0:21 / /proc rw shared:12 - proc proc rw\n" +
		"30 22 0:40 /with\\040space /mnt/a\\134b rw - tmpfs x rw\n" +
		"bad line\n" +
		"31 22 0:41 /x\\04 /y rw - tmpfs x rw\n"
	got := parseMountinfo(strings.NewReader(in))
	if len(got) != 3 || got[0] != (mount{"254:0", "/tmp/jt/root", "/"}) || got[2] != (mount{"0:40", "/with space", `/mnt/a\b`}) {
		t.Fatalf("parsed %+v", got)
	}
	if top, ok := rootMount(got); !ok || top.root != "/tmp/jt/root" {
		t.Errorf("root mount %+v", top)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("65 44 254:0 /tmp/jt/root / rw,relatime - ext4 /dev/vda rw\n")
	f.Add("1 2 3:4 /a\\040b /c\\ rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range parseMountinfo(strings.NewReader(s)) {
			if !filepath.IsAbs(m.root) || !filepath.IsAbs(m.point) || !strings.Contains(m.dev, ":") {
				t.Fatalf("mount %+v from %q", m, s)
			}
		}
	})
}

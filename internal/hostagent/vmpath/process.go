package vmpath

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrJailUnplaced: the process is jailed, but where its jail lies on the
// host cannot be told, so whether it is under the allowed directories
// cannot either.
var ErrJailUnplaced = errors.New("where its jail lies on the host cannot be told")

// Process returns the Root of the paths process pid names, as procfs at
// procRoot shows it: its jail when its root is not the host's (a chroot,
// or the jailer's pivot_root in a mount namespace of its own), else the
// host's root with its working directory for relative paths. The files
// must belong to owner (the process's uid). A jail must lie below one of
// allow; on the host's root, paths must resolve beneath one of them.
//
// The caller checks, after Process returns, that pid is still the process
// it means (its start time): the Root holds the root it had then.
func Process(procRoot string, pid int, owner int, allow []string) (*Root, error) {
	pdir := filepath.Join(procRoot, strconv.Itoa(pid))
	jail, err := os.OpenFile(filepath.Join(pdir, "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the root of process %d: %w", pid, unwrapOp(err))
	}
	r := &Root{allow: allow, owner: owner, also: AnyOwner}
	host, err := sameAsHostRoot(jail)
	if err != nil {
		jail.Close()
		return nil, err
	}
	if host {
		jail.Close()
		if cwd, err := os.Readlink(filepath.Join(pdir, "cwd")); err == nil && filepath.IsAbs(cwd) {
			r.cwd = cwd
		}
		return r, nil
	}
	r.jail, r.shown = jail, filepath.Join(pdir, "root")
	if r.dir, err = jailDir(pdir, jail); err != nil {
		jail.Close()
		return nil, fmt.Errorf("process %d is jailed, but %w: %w", pid, ErrJailUnplaced, err)
	}
	if holder(r.dir, allow) == "" {
		jail.Close()
		return nil, fmt.Errorf("the jail of process %d, %s, lies %w: %s", pid, r.dir, ErrOutside, strings.Join(allow, ", "))
	}
	return r, nil
}

// sameAsHostRoot reports whether f is the directory this process sees as
// "/".
func sameAsHostRoot(f *os.File) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat("/", &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// jailDir finds where the jail lies on the host: the root link's target
// when the jail is a chroot in the host's mount namespace, else from the
// process's root mount and the host's mount of the same filesystem (the
// jailer's pivot_root leaves the link reading "/"). Either answer must be
// the very directory: same device and inode.
func jailDir(pdir string, jail *os.File) (string, error) {
	var want unix.Stat_t
	if err := unix.Fstat(int(jail.Fd()), &want); err != nil {
		return "", err
	}
	is := func(p string) bool {
		var st unix.Stat_t
		return unix.Stat(p, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino
	}
	if link, err := os.Readlink(filepath.Join(pdir, "root")); err == nil && link != "/" && filepath.IsAbs(link) && is(link) {
		return link, nil
	}
	theirs, err := readMountinfo(filepath.Join(pdir, "mountinfo"))
	if err != nil {
		return "", err
	}
	top, ok := rootMount(theirs)
	if !ok {
		return "", errors.New("its mount table has no root mount")
	}
	ours, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, m := range ours {
		if m.dev != top.dev {
			continue
		}
		rel, ok := strings.CutPrefix(top.root, strings.TrimSuffix(m.root, "/"))
		if !ok || (rel != "" && rel[0] != '/') {
			continue
		}
		if p := filepath.Join(m.point, rel); is(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no mount of this host holds its root (device %s, %s)", top.dev, top.root)
}

// mount is one line of a mountinfo file.
type mount struct {
	dev   string // major:minor
	root  string // the directory of the filesystem mounted
	point string // where
}

func readMountinfo(path string) ([]mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(f), nil
}

// parseMountinfo parses proc(5)'s mountinfo: "ID PARENT MAJ:MIN ROOT POINT
// OPTIONS ...", paths with space, tab, newline and backslash escaped in
// octal. Lines that do not parse are skipped.
func parseMountinfo(r io.Reader) []mount {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.Contains(f[2], ":") {
			continue
		}
		root, ok1 := unescapeOctal(f[3])
		point, ok2 := unescapeOctal(f[4])
		if !ok1 || !ok2 || !filepath.IsAbs(root) || !filepath.IsAbs(point) {
			continue
		}
		out = append(out, mount{dev: f[2], root: root, point: point})
	}
	return out
}

// rootMount is the mount at "/": the last one listed there, the one on top.
func rootMount(ms []mount) (mount, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].point == "/" {
			return ms[i], true
		}
	}
	return mount{}, false
}

// unescapeOctal undoes mountinfo's \NNN escapes.
func unescapeOctal(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 3
	}
	return b.String(), true
}

// holder is the longest of dirs that is p or holds it; "" when none does.
func holder(p string, dirs []string) string {
	best := ""
	for _, d := range dirs {
		if (p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/")) && len(d) > len(best) {
			best = d
		}
	}
	return best
}

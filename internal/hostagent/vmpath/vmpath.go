// Package vmpath opens the files a Firecracker VM names — its API socket,
// its vsock socket, its metrics FIFO — the way a host agent running as root
// must: a path is resolved by the kernel inside the VM process's root when
// it is jailed (openat2 with RESOLVE_IN_ROOT, so ".." and absolute symlinks
// stay in the jail) or beneath one of the allowed directories when it is
// not (RESOLVE_BENEATH), magic links such as /proc/self/root are never
// followed, and what it names must be of the expected kind and owned by the
// expected user before anything reads, writes or connects to it. Sockets are
// dialled, and FIFOs reopened, through the descriptor that passed those
// checks (/proc/self/fd/N), so a path swapped after the check is never
// followed.
package vmpath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is the kind of file a path must name.
type Kind int

const (
	// Socket is a Unix socket: an API socket or a vsock socket.
	Socket Kind = iota
	// Metrics is Firecracker's metrics output: a FIFO, or the regular file
	// Firecracker creates when the path did not exist.
	Metrics
	// Config is a file the VM's process reads (its --config-file): a
	// regular file, its user's or root's (a launcher writes it).
	Config
	// Launcher is a file only the launcher writes, never the VM's process
	// (the labels file): a regular file of root's or the host agent's
	// own user's, writable by nobody else.
	Launcher
)

// Sentinel errors, for errors.Is; the errors returned say more.
var (
	// ErrOutside: the path resolves outside the allowed directories, or
	// outside the process's jail.
	ErrOutside = errors.New("outside the allowed directories")
	// ErrKind: the path names a file of another kind.
	ErrKind = errors.New("not of the expected kind")
	// ErrOwner: the file belongs to another user than the VM's.
	ErrOwner = errors.New("owned by another user")
)

// AnyOwner, as a Root's owner, accepts files of any owner.
const AnyOwner = -1

// FileKey identifies a file on the host whatever path reaches it.
type FileKey struct{ Dev, Ino uint64 }

// Root is where one VM's paths resolve: the host's root, beneath the
// allowed directories, or the jail of its Firecracker process. A Root of a
// process holds a descriptor of that process's root; Close releases it.
type Root struct {
	allow []string
	owner int      // the uid the files must have; AnyOwner: any
	also  int      // a second accepted owner (root for attached paths); AnyOwner: none
	jail  *os.File // O_PATH of the process's root; nil: the host's root
	dir   string   // where the jail lies on the host; "" for the host's root
	shown string   // the prefix paths are shown with (/proc/PID/root for a jail)
	cwd   string   // the host path of a plain process's working directory
}

// Host returns the Root of paths on the host itself, such as those of
// POST /v1/vms: they must resolve beneath one of allow (clean absolute
// directories) and, unless owner is AnyOwner, belong to owner or to root.
func Host(allow []string, owner int) *Root {
	r := &Root{allow: allow, owner: owner, also: AnyOwner}
	if owner != AnyOwner {
		r.also = 0
	}
	return r
}

// Jailed reports whether the Root is a jail rather than the host's root.
func (r *Root) Jailed() bool { return r.jail != nil }

// Dir is where the jail lies on the host; "" for the host's root.
func (r *Root) Dir() string { return r.dir }

// Close releases the jail's descriptor. A closed Root resolves nothing.
func (r *Root) Close() error {
	if r.jail == nil {
		return nil
	}
	return r.jail.Close()
}

// Show is how the host reaches name, for logs and the API: below
// /proc/PID/root for a jailed process, below its working directory for a
// relative name. It is never opened as such.
func (r *Root) Show(name string) string {
	switch {
	case r.jail != nil:
		return filepath.Join(r.shown, name)
	case !filepath.IsAbs(name) && r.cwd != "":
		return filepath.Join(r.cwd, name)
	}
	return name
}

// Resolve resolves name and returns an O_PATH descriptor of what it names,
// after checking its kind and owner. The caller closes it.
func (r *Root) Resolve(name string, kind Kind) (*os.File, error) {
	f, err := r.resolve(name, 0)
	if err != nil {
		return nil, err
	}
	if err := r.check(f, name, kind); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Key returns the identity of the file name resolves to, checked as by
// Resolve.
func (r *Root) Key(name string, kind Kind) (FileKey, error) {
	f, err := r.Resolve(name, kind)
	if err != nil {
		return FileKey{}, err
	}
	defer f.Close()
	return keyOf(f)
}

// Check reports whether name passes the checks of Resolve, or, when it
// does not exist yet, whether its nearest existing directory resolves
// where name must (so a socket Firecracker has not made yet, or a FIFO to
// be created, is confined as well).
func (r *Root) Check(name string, kind Kind) error {
	f, err := r.Resolve(name, kind)
	if err == nil {
		f.Close()
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for dir := filepath.Dir(name); ; dir = filepath.Dir(dir) {
		d, derr := r.resolve(dir, unix.O_DIRECTORY)
		if derr == nil {
			d.Close()
			return nil
		}
		if !errors.Is(derr, fs.ErrNotExist) || dir == filepath.Dir(dir) || dir == "." {
			return derr
		}
	}
}

// Equal reports whether r and o resolve alike: the same jail, or both the
// host's root with the same owner.
func (r *Root) Equal(o *Root) bool {
	if r == o {
		return true
	}
	return r != nil && o != nil && r.jail == nil && o.jail == nil && r.owner == o.owner && r.cwd == o.cwd &&
		strings.Join(r.allow, "\x00") == strings.Join(o.allow, "\x00")
}

// ReadFile reads the regular file name resolves to (Kind Config), at most
// max bytes of it.
func (r *Root) ReadFile(name string, max int64) ([]byte, error) { return r.ReadKind(name, Config, max) }

// ReadKind reads the regular file name resolves to, checked as kind
// (Config or Launcher), at most max bytes of it.
func (r *Root) ReadKind(name string, kind Kind, max int64) ([]byte, error) {
	p, err := r.Resolve(name, kind)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	fd, err := unix.Open(fdPath(p), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", r.Show(name), err)
	}
	f := os.NewFile(uintptr(fd), r.Show(name))
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", r.Show(name), max)
	}
	return b, nil
}

// Locate checks name as Resolve does and returns where the file lies: on
// the host for the host's root (every symlink resolved), as Show has it
// for a jail.
func (r *Root) Locate(name string, kind Kind) (string, error) {
	f, err := r.Resolve(name, kind)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if r.jail != nil {
		return r.Show(name), nil
	}
	return os.Readlink(fdPath(f))
}

// Dial connects to the Unix socket name resolves to, through the
// descriptor that passed the checks.
func (r *Root) Dial(ctx context.Context, name string) (net.Conn, error) {
	f, err := r.Resolve(name, Socket)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", fdPath(f))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", r.Show(name), unwrapOp(err))
	}
	return c, nil
}

// resolve opens name with O_PATH (plus flags) inside the jail, or beneath
// the allowed directory that holds it.
func (r *Root) resolve(name string, flags int) (*os.File, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("%q is not a path", name)
	}
	if r.jail != nil {
		if !filepath.IsAbs(name) {
			name = "/" + name // the jailer's working directory is the jail's root
		}
		return openat2(r.jail, name, flags, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS, r.Show(name))
	}
	p := name
	if !filepath.IsAbs(p) {
		if r.cwd == "" {
			return nil, fmt.Errorf("%q is relative, and the process's working directory is unknown", name)
		}
		p = r.cwd + "/" + p
	}
	f, err := r.beneath(p, flags)
	if errors.Is(err, ErrOutside) {
		// A symlink from one allowed directory into another is allowed:
		// find where it leads, then open that beneath its own directory.
		if real, rerr := resolveExisting(p); rerr == nil && real != p {
			if g, gerr := r.beneath(real, flags); gerr == nil {
				return g, nil
			}
			return nil, fmt.Errorf("%s (it resolves to %s) lies %w: %s", p, real, ErrOutside, strings.Join(r.allow, ", "))
		}
	}
	return f, err
}

// beneath opens p beneath the longest allowed directory holding it.
func (r *Root) beneath(p string, flags int) (*os.File, error) {
	best := holder(p, r.allow)
	if best == "" {
		return nil, fmt.Errorf("%s lies %w: %s", p, ErrOutside, strings.Join(r.allow, ", "))
	}
	dir, err := os.OpenFile(best, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the allowed directory %s: %w", best, unwrapOp(err))
	}
	defer dir.Close()
	rel := strings.TrimPrefix(strings.TrimPrefix(p, best), "/")
	if rel == "" {
		rel = "."
	}
	return openat2(dir, rel, flags, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_MAGICLINKS, p)
}

// openat2 opens name below dir with O_PATH and the resolve flags; shown
// names it in errors.
func openat2(dir *os.File, name string, flags int, resolve uint64, shown string) (*os.File, error) {
	how := unix.OpenHow{Flags: uint64(unix.O_PATH | unix.O_CLOEXEC | flags), Resolve: resolve}
	for {
		fd, err := unix.Openat2(int(dir.Fd()), name, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), shown), nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // a rename raced the lookup; the kernel asks to retry
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
			return nil, fmt.Errorf("%s: it leaves its directory through \"..\", a symlink or a magic link: %w", shown, ErrOutside)
		case errors.Is(err, unix.ENOSYS):
			return nil, fmt.Errorf("%s: the kernel has no openat2 (Linux 5.6 or newer is needed): %w", shown, err)
		case errors.Is(err, unix.ENOENT):
			return nil, fmt.Errorf("%s: %w", shown, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
}

// check verifies the kind and owner of the file f names.
func (r *Root) check(f *os.File, name string, kind Kind) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("%s: %w", r.Show(name), err)
	}
	mode := st.Mode & unix.S_IFMT
	switch {
	case kind == Socket && mode != unix.S_IFSOCK:
		return fmt.Errorf("%s is %s, not a Unix socket: %w", r.Show(name), describe(mode), ErrKind)
	case kind == Metrics && mode != unix.S_IFIFO && mode != unix.S_IFREG:
		return fmt.Errorf("%s is %s, not a FIFO (or the regular file Firecracker creates when none exists): %w", r.Show(name), describe(mode), ErrKind)
	case (kind == Config || kind == Launcher) && mode != unix.S_IFREG:
		return fmt.Errorf("%s is %s, not a regular file: %w", r.Show(name), describe(mode), ErrKind)
	}
	if kind == Launcher {
		// The VM's own user could otherwise give it the labels it likes.
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("%s belongs to uid %d; it must be root's (or the host agent's), as the launcher's and not the VM's: %w", r.Show(name), st.Uid, ErrOwner)
		}
		if st.Mode&0o022 != 0 {
			return fmt.Errorf("%s may be written by others than its owner (mode %04o): %w", r.Show(name), st.Mode&0o7777, ErrOwner)
		}
		return nil
	}
	if r.owner != AnyOwner && int(st.Uid) != r.owner && int(st.Uid) != r.also && (kind != Config || st.Uid != 0) {
		return fmt.Errorf("%s belongs to uid %d, not to the VM's uid %d: %w", r.Show(name), st.Uid, r.owner, ErrOwner)
	}
	return nil
}

func keyOf(f *os.File) (FileKey, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return FileKey{}, err
	}
	return FileKey{Dev: st.Dev, Ino: st.Ino}, nil
}

// fdPath names the file behind f through this process's descriptor table.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

func describe(mode uint32) string {
	switch mode {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFSOCK:
		return "a Unix socket"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	case unix.S_IFLNK:
		return "a symlink"
	}
	return "a special file"
}

// resolveExisting resolves the symlinks of p's longest existing prefix and
// appends the rest, which does not exist yet.
func resolveExisting(p string) (string, error) {
	rest := ""
	for cur := p; ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", err
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// unwrapOp drops the *net.OpError and *os.PathError layers, whose text
// repeats the /proc/self/fd path rather than the VM's.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err
}

package hostagent

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path/filepath"
	"strings"

	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// vpath is a path a VM names and the root it resolves in: the host's,
// beneath --allow-paths, for a path POST /v1/vms gave; the process's (its
// jail) for one discovery found.
type vpath struct {
	root     *vmpath.Root
	name     string
	attached bool // given by POST /v1/vms: a metrics FIFO may be created there
}

func (p vpath) set() bool { return p.name != "" }

// shown is how the host reaches the path, for the API and logs.
func (p vpath) shown() string {
	if !p.set() {
		return ""
	}
	return p.root.Show(p.name)
}

// same reports whether p and q name the same path in the same root.
func (p vpath) same(q vpath) bool {
	return p.name == q.name && p.root.Equal(q.root)
}

func (p vpath) key(kind vmpath.Kind) (vmpath.FileKey, error) { return p.root.Key(p.name, kind) }

// dial connects to the socket p names, checked at every dial.
func (p vpath) dial(ctx context.Context) (net.Conn, error) { return p.root.Dial(ctx, p.name) }

// attachRoot is the root of the paths of an attach: the host's, beneath
// --allow-paths, files owned by the VM's process's user (or root) when the
// attach names a live process.
func (a *Agent) attachRoot(pid int) *vmpath.Root {
	owner := vmpath.AnyOwner
	if pid > 0 {
		if uids, err := discover.NewScanner(a.cfg.ProcRoot).UIDs(pid); err == nil {
			owner = uids[3]
		}
	}
	return vmpath.Host(a.set.paths, owner)
}

// checkPath checks a path of POST /v1/vms before anything is opened: clean,
// beneath --allow-paths once resolved, and — when it exists — of the kind
// the field needs and owned by the VM's user. A path that does not exist
// yet (Firecracker has not started) must lie beneath them too. The caller
// has checked that p is absolute, bounded and free of NUL.
func (a *Agent) checkPath(root *vmpath.Root, field, p string, kind vmpath.Kind) (vpath, error) {
	if filepath.Clean(p) != p {
		return vpath{}, badRequest("%s %q is not a clean path (no \"..\", \".\", \"//\" or trailing slash)", field, p)
	}
	err := root.Check(p, kind)
	switch {
	case err == nil:
		return vpath{root: root, name: p, attached: true}, nil
	case errors.Is(err, vmpath.ErrOutside):
		return vpath{}, badRequest("%s %q: %v; the host agent's --allow-paths decides which", field, p, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, vmpath.ErrKind), errors.Is(err, vmpath.ErrOwner):
		return vpath{}, badRequest("%s %q: %v", field, p, err)
	}
	return vpath{}, badRequest("%s %q cannot be resolved: %v", field, p, strings.TrimPrefix(err.Error(), p+": "))
}

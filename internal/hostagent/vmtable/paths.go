package vmtable

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// attachRoot is the root of the paths of an attach: the host's, beneath
// --allow-paths, files owned by the VM's process's user (or root) when the
// attach names a live process.
func (a *Table) attachRoot(pid int) *vmpath.Root {
	owner := vmpath.AnyOwner
	if pid > 0 {
		if uids, err := discover.NewScanner(a.opt.ProcRoot).UIDs(pid); err == nil {
			owner = uids[3]
		}
	}
	return vmpath.Host(a.opt.AllowPaths, owner)
}

// checkPath checks a path of POST /v1/vms before anything is opened: clean,
// beneath --allow-paths once resolved, and — when it exists — of the kind
// the field needs and owned by the VM's user. A path that does not exist
// yet (Firecracker has not started) must lie beneath them too. The caller
// has checked that p is absolute, bounded and free of NUL.
func (a *Table) checkPath(root *vmpath.Root, field, p string, kind vmpath.Kind) (vmpath.Path, error) {
	if filepath.Clean(p) != p {
		return vmpath.Path{}, badRequest("%s %q is not a clean path (no \"..\", \".\", \"//\" or trailing slash)", field, p)
	}
	err := root.Check(p, kind)
	switch {
	case err == nil:
		return vmpath.Path{Root: root, Name: p, Attached: true}, nil
	case errors.Is(err, vmpath.ErrOutside):
		return vmpath.Path{}, badRequest("%s %q: %v; the host agent's --allow-paths decides which", field, p, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, vmpath.ErrKind), errors.Is(err, vmpath.ErrOwner):
		return vmpath.Path{}, badRequest("%s %q: %v", field, p, err)
	}
	return vmpath.Path{}, badRequest("%s %q cannot be resolved: %v", field, p, strings.TrimPrefix(err.Error(), p+": "))
}

package hostagent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kinds of file a path given to POST /v1/vms must name.
const (
	pathMetrics = iota // a FIFO, or a regular file Firecracker created; created as a FIFO when absent
	pathSocket         // a Unix socket, or nothing yet (Firecracker creates it at start)
)

// checkPath confines a path from the API to --allow-paths: after resolving
// every symlink of its existing part, it must lie under one of the roots,
// and an existing file must be of the kind the field needs (a regular file
// given as a socket, a directory or a device are refused). It returns the
// resolved path, which is what the agent then opens, so a symlink swapped
// in later is not followed out of the roots. The caller has checked that p
// is absolute, bounded and free of NUL.
func (a *Agent) checkPath(field, p string, kind int) (string, error) {
	if filepath.Clean(p) != p {
		return "", badRequest("%s %q is not a clean path (no \"..\", \".\", \"//\" or trailing slash)", field, p)
	}
	resolved, err := resolveExisting(p)
	if err != nil {
		return "", badRequest("%s %q cannot be resolved: %v", field, p, errors.Unwrap(err))
	}
	if !a.underRoots(resolved) {
		where := ""
		if resolved != p {
			where = " (it resolves to " + resolved + ")"
		}
		return "", badRequest("%s %q lies outside the allowed directories%s: %s; the host agent's --allow-paths decides which",
			field, p, where, strings.Join(a.set.paths, ", "))
	}
	fi, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return resolved, nil
	case err != nil:
		return "", badRequest("%s %q: %v", field, p, errors.Unwrap(err))
	}
	m := fi.Mode()
	switch {
	case kind == pathSocket && m&fs.ModeSocket == 0:
		return "", badRequest("%s %q is %s, not a Unix socket", field, p, describeMode(m))
	case kind == pathMetrics && m&fs.ModeNamedPipe == 0 && !m.IsRegular():
		return "", badRequest("%s %q is %s, not a FIFO (or the regular file Firecracker creates when none exists)", field, p, describeMode(m))
	}
	return resolved, nil
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

func (a *Agent) underRoots(p string) bool {
	for _, root := range a.set.paths {
		if p == root || strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
			return true
		}
	}
	return false
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSocket != 0:
		return "a Unix socket"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "a special file"
}

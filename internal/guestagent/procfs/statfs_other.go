//go:build !linux

package procfs

import (
	"errors"
	"os"
)

// StatFS is implemented on Linux only; elsewhere it returns an error
// matching errors.ErrUnsupported, so the package still builds for tools and
// tests on a developer's machine.
func StatFS(path string) (FSUsage, error) {
	return FSUsage{}, &os.PathError{Op: "statfs", Path: path, Err: errors.ErrUnsupported}
}

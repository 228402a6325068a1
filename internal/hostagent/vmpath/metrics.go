package vmpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Metrics kinds, as OpenMetrics reports them.
const (
	KindFIFO = "fifo" // a named pipe: the setup Firecracker's docs ask for
	KindFile = "file" // a regular file Firecracker created itself
)

// MetricsFile is an open metrics output.
type MetricsFile struct {
	File    *os.File // a FIFO read-write and non-blocking, a regular file read-only
	Kind    string   // KindFIFO or KindFile
	Created bool     // OpenMetrics made the FIFO
	Key     FileKey
}

// OpenMetrics opens the metrics output name resolves to. A FIFO is opened
// read-write and non-blocking: the open never waits for a writer, and the
// reader, holding a write end too, never sees end-of-file. A regular file
// is opened read-only. When name does not exist and create is set, a FIFO
// (mode 0600) is made there first, in the directory that passed the checks;
// paths a discovered VM names are never created.
func (r *Root) OpenMetrics(name string, create bool) (MetricsFile, error) {
	p, err := r.Resolve(name, Metrics)
	created := false
	if errors.Is(err, fs.ErrNotExist) && create {
		if err = r.mkfifo(name); err == nil {
			created = true
			p, err = r.Resolve(name, Metrics)
		}
	}
	if err != nil {
		return MetricsFile{}, err
	}
	defer p.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(p.Fd()), &st); err != nil {
		return MetricsFile{}, err
	}
	kind, flags := KindFile, unix.O_RDONLY
	if st.Mode&unix.S_IFMT == unix.S_IFIFO {
		kind, flags = KindFIFO, unix.O_RDWR|unix.O_NONBLOCK
	}
	// Reopen the very file that passed the checks, not the path.
	fd, err := unix.Open(fdPath(p), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return MetricsFile{}, fmt.Errorf("opening %s: %w", r.Show(name), err)
	}
	f := os.NewFile(uintptr(fd), r.Show(name))
	key, err := keyOf(f)
	if err != nil || key != (FileKey{Dev: st.Dev, Ino: st.Ino}) {
		f.Close()
		return MetricsFile{}, fmt.Errorf("opening %s: the file changed while it was opened", r.Show(name))
	}
	return MetricsFile{File: f, Kind: kind, Created: created, Key: key}, nil
}

// mkfifo makes a FIFO at name in the directory that holds it, resolved as
// any path is.
func (r *Root) mkfifo(name string) error {
	dir, base := filepath.Split(name)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("%s: not a file name", r.Show(name))
	}
	if dir == "" {
		dir = "."
	}
	d, err := r.resolve(dir, unix.O_DIRECTORY)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("creating FIFO %s: its directory does not exist: %w", r.Show(name), err)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mkfifoat(int(d.Fd()), base, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("creating FIFO %s: %w", r.Show(name), err)
	}
	return nil
}

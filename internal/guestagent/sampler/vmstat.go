package sampler

import (
	"errors"
	"io/fs"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// vmstat is what fcmon takes of /proc/vmstat: the OOM killer's count.
type vmstat struct {
	oomKills uint64
	found    bool
}

func init() { register(func(*Options) figure { return &vmstat{} }) }

func (f *vmstat) read(fsys procfs.FS) []sourceErr {
	var err error
	f.oomKills, f.found, err = fsys.OOMKills()
	if errors.Is(err, fs.ErrNotExist) { // a container's /proc may lack it: no count, no error
		return nil
	}
	return failed("vmstat", err)
}

func (f *vmstat) fill(m *wire.GuestMetrics, _ window) {
	if f.found {
		n := f.oomKills
		m.OOMKills = &n
	}
}

func (f *vmstat) prom(w *promtext.Writer) {
	if !f.found {
		return
	}
	// node_exporter's vmstat collector exports its fields untyped.
	w.Family("node_vmstat_oom_kill", "untyped", "/proc/vmstat information field oom_kill.")
	w.SampleUint(f.oomKills)
}

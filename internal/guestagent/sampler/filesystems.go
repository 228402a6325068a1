package sampler

import (
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// filesystems is /proc/self/mounts with statfs of each real filesystem
// (pseudo and memory filesystems left out), each call time-limited (see
// statfsGuard).
type filesystems struct {
	guard *statfsGuard
	cur   []fsEntry
}

func init() {
	register(func(o *Options) figure {
		return &filesystems{guard: newStatfsGuard(o.StatFS, o.StatFSTimeout)}
	})
}

func (f *filesystems) read(fs procfs.FS) []sourceErr {
	mounts, err := fs.Mounts()
	f.cur = nil
	if err == nil {
		f.cur = f.guard.usages(mounts)
	}
	return failed("mounts", err)
}

func (f *filesystems) fill(m *wire.GuestMetrics, _ window) {
	out := make([]wire.Filesystem, 0, len(f.cur))
	for _, e := range f.cur {
		used := uint64(0)
		if e.usage.TotalBytes > e.usage.FreeBytes {
			used = e.usage.TotalBytes - e.usage.FreeBytes
		}
		out = append(out, wire.Filesystem{MountPoint: e.mount.MountPoint, FSType: e.mount.FSType,
			TotalBytes: e.usage.TotalBytes, UsedBytes: used, AvailableBytes: e.usage.AvailableBytes})
	}
	m.Filesystems = out
}

func (f *filesystems) prom(w *promtext.Writer) {
	if len(f.cur) == 0 {
		return
	}
	families := []struct {
		name, help string
		get        func(e *fsEntry) uint64
	}{
		{"node_filesystem_size_bytes", "Filesystem size in bytes.", func(e *fsEntry) uint64 { return e.usage.TotalBytes }},
		{"node_filesystem_free_bytes", "Filesystem free space in bytes.", func(e *fsEntry) uint64 { return e.usage.FreeBytes }},
		{"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", func(e *fsEntry) uint64 { return e.usage.AvailableBytes }},
	}
	for _, fam := range families {
		w.Family(fam.name, "gauge", fam.help)
		for i := range f.cur {
			e := &f.cur[i]
			// device_error: node_exporter's label for a mount it could not
			// stat; the agent leaves such mounts out, so it is empty.
			w.SampleUint(fam.get(e), "device", e.mount.Device, "device_error", "", "fstype", e.mount.FSType, "mountpoint", e.mount.MountPoint)
		}
	}
}

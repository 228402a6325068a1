package sampler

import (
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// disks is /proc/diskstats: whole disks (no partitions, ram, loop or zram
// devices), with rates over the window.
type disks struct {
	prev, cur []procfs.DiskStat
}

func init() { register(func(*Options) figure { return &disks{} }) }

func (f *disks) read(fs procfs.FS) []sourceErr {
	var err error
	f.prev = f.cur
	f.cur, err = fs.Disks()
	return failed("diskstats", err)
}

func (f *disks) fill(m *wire.GuestMetrics, w window) {
	before := make(map[string]procfs.DiskStat, len(f.prev))
	for _, d := range f.prev {
		before[d.Name] = d
	}
	out := make([]wire.Disk, 0, len(f.cur))
	for _, d := range f.cur {
		wd := wire.Disk{Device: d.Name, ReadBytes: d.ReadBytes(), WriteBytes: d.WriteBytes(),
			Reads: d.ReadsCompleted, Writes: d.WritesCompleted}
		if p, ok := before[d.Name]; ok {
			wd.ReadBytesPerSec = perSec(p.ReadBytes(), d.ReadBytes(), w)
			wd.WriteBytesPerSec = perSec(p.WriteBytes(), d.WriteBytes(), w)
		}
		out = append(out, wd)
	}
	m.Disks = out
}

func (f *disks) prom(w *promtext.Writer) {
	if len(f.cur) == 0 {
		return
	}
	counters := []struct {
		name, help string
		get        func(d *procfs.DiskStat) float64
	}{
		{"node_disk_reads_completed_total", "The total number of reads completed successfully.", func(d *procfs.DiskStat) float64 { return float64(d.ReadsCompleted) }},
		{"node_disk_read_bytes_total", "The total number of bytes read successfully.", func(d *procfs.DiskStat) float64 { return float64(d.ReadBytes()) }},
		{"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", func(d *procfs.DiskStat) float64 { return float64(d.ReadTimeMs) / 1000 }},
		{"node_disk_writes_completed_total", "The total number of writes completed successfully.", func(d *procfs.DiskStat) float64 { return float64(d.WritesCompleted) }},
		{"node_disk_written_bytes_total", "The total number of bytes written successfully.", func(d *procfs.DiskStat) float64 { return float64(d.WriteBytes()) }},
		{"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", func(d *procfs.DiskStat) float64 { return float64(d.WriteTimeMs) / 1000 }},
		{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", func(d *procfs.DiskStat) float64 { return float64(d.IOTimeMs) / 1000 }},
	}
	for _, c := range counters {
		w.Family(c.name, "counter", c.help)
		for i := range f.cur {
			w.Sample(c.get(&f.cur[i]), "device", f.cur[i].Name)
		}
	}
	w.Family("node_disk_io_now", "gauge", "The number of I/Os currently in progress.")
	for _, d := range f.cur {
		w.SampleUint(d.IOInProgress, "device", d.Name)
	}
}

package sampler

import (
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// load is /proc/loadavg and /proc/uptime.
type load struct {
	avg              procfs.LoadAvg
	uptime           float64
	loadOK, uptimeOK bool
}

func init() { register(func(*Options) figure { return &load{} }) }

func (f *load) read(fs procfs.FS) []sourceErr {
	var lerr, uerr error
	f.avg, lerr = fs.LoadAvg()
	f.uptime, uerr = fs.Uptime()
	f.loadOK, f.uptimeOK = lerr == nil, uerr == nil
	return append(failed("uptime", uerr), failed("loadavg", lerr)...)
}

func (f *load) fill(m *wire.GuestMetrics, _ window) {
	if f.uptimeOK {
		m.UptimeSeconds = uint64(f.uptime)
	}
	if f.loadOK {
		m.Load = &wire.Load{Load1: f.avg.Load1, Load5: f.avg.Load5, Load15: f.avg.Load15}
	}
}

func (f *load) prom(w *promtext.Writer) {
	if !f.loadOK {
		return
	}
	w.Family("node_load1", "gauge", "1m load average.")
	w.Sample(f.avg.Load1)
	w.Family("node_load5", "gauge", "5m load average.")
	w.Sample(f.avg.Load5)
	w.Family("node_load15", "gauge", "15m load average.")
	w.Sample(f.avg.Load15)
}

package sampler

import (
	"errors"
	"io/fs"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// pressure is the kernel's pressure stall information (/proc/pressure),
// when it has it: a kernel without PSI is not an error.
type pressure struct {
	psi [3]procfs.Pressure // cpu, memory, io
	ok  [3]bool
}

var psiResources = [3]string{"cpu", "memory", "io"}

func init() { register(func(*Options) figure { return &pressure{} }) }

func (f *pressure) read(pfs procfs.FS) []sourceErr {
	var errs []sourceErr
	for i, res := range psiResources {
		var err error
		f.psi[i], err = pfs.Pressure(res)
		f.ok[i] = err == nil
		if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, failed("pressure/"+res, err)...)
		}
	}
	return errs
}

// fill reports PSI only when the kernel has all three resources.
func (f *pressure) fill(m *wire.GuestMetrics, _ window) {
	if !f.ok[0] || !f.ok[1] || !f.ok[2] {
		return
	}
	m.Pressure = &wire.Pressure{CPUSomeAvg10: f.psi[0].Some.Avg10,
		MemorySomeAvg10: f.psi[1].Some.Avg10, MemoryFullAvg10: f.psi[1].Full.Avg10,
		IOSomeAvg10: f.psi[2].Some.Avg10, IOFullAvg10: f.psi[2].Full.Avg10}
}

func (f *pressure) prom(w *promtext.Writer) {
	stalls := []struct {
		res        int
		full       bool
		name, help string
	}{
		{0, false, "node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time."},
		{1, false, "node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory."},
		{1, true, "node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion."},
		{2, false, "node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion."},
		{2, true, "node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion."},
	}
	for _, s := range stalls {
		p := f.psi[s.res]
		if !f.ok[s.res] || (s.full && !p.HasFull) {
			continue
		}
		total := p.Some.TotalUs
		if s.full {
			total = p.Full.TotalUs
		}
		w.Family(s.name, "counter", s.help)
		w.Sample(float64(total) / 1e6)
	}
}

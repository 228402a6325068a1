package hostagent

import (
	"path/filepath"
	"regexp"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
)

// pidMax is the kernel's PID_MAX_LIMIT: no pid is larger on any system.
const pidMax = 4 << 20

// maxSocketPath is the longest path a Unix socket address holds
// (sun_path is 108 bytes including the terminating NUL).
const maxSocketPath = 107

var vmIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// vm is one attached VM. It is immutable once stored: attaching the same id
// again builds a new vm that takes over the unchanged sources of the old.
type vm struct {
	cfg        wire.VMConfig
	attachedAt time.Time
	reader     *firecracker.MetricsReader // nil without metrics_fifo
	flusher    *firecracker.Flusher       // nil without api_socket and metrics_fifo
	tap        *tapReader                 // nil without tap
}

// validateVM checks a configuration before anything is opened, with
// messages that say what was expected.
func validateVM(c wire.VMConfig) error {
	if c.ID == "" {
		return badRequest("id is required")
	}
	if !vmIDPattern.MatchString(c.ID) {
		return badRequest("id %q is not valid: 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", c.ID)
	}
	if c.PID < 0 || c.PID > pidMax {
		return badRequest("pid %d is out of range (1 to %d, or 0 for none)", c.PID, pidMax)
	}
	if err := validPath("metrics_fifo", c.MetricsFIFO); err != nil {
		return err
	}
	if err := validPath("api_socket", c.APISocket); err != nil {
		return err
	}
	if len(c.APISocket) > maxSocketPath {
		return badRequest("api_socket is %d bytes long; a Unix socket path has at most %d", len(c.APISocket), maxSocketPath)
	}
	if c.Tap != "" {
		if err := validTapName(c.Tap); err != nil {
			return badRequest("%v", err)
		}
	}
	return nil
}

func validPath(field, p string) error {
	switch {
	case p == "":
		return nil
	case !filepath.IsAbs(p):
		return badRequest("%s %q must be an absolute path", field, p)
	case len(p) > 4095:
		return badRequest("%s is longer than 4095 bytes", field)
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return badRequest("%s contains a NUL byte", field)
		}
	}
	return nil
}

// resolvedPaths are a VM's metrics FIFO and API socket with their symlinks
// resolved: what the agent opens.
type resolvedPaths struct{ metrics, socket string }

// prepare builds the vm for cfg, reusing what old (nil on a first attach)
// already has for the same sources. It opens a new metrics FIFO here, so
// that a bad path fails the request before anything changes; the sources
// start in start.
func (a *Agent) prepare(cfg wire.VMConfig, paths resolvedPaths, old *vm) (*vm, error) {
	nv := &vm{cfg: cfg, attachedAt: time.Now()}
	if old != nil {
		nv.attachedAt = old.attachedAt
	}
	if cfg.MetricsFIFO != "" {
		if old != nil && old.reader != nil && old.cfg.MetricsFIFO == cfg.MetricsFIFO {
			nv.reader = old.reader
		} else {
			r, err := firecracker.OpenMetrics(paths.metrics)
			if err != nil {
				return nil, badRequest("metrics_fifo: %v", err)
			}
			nv.reader = r
		}
	}
	// FlushMetrics only makes sense when someone reads the lines.
	if cfg.APISocket != "" && cfg.MetricsFIFO != "" {
		if old != nil && old.flusher != nil && old.cfg.APISocket == cfg.APISocket {
			nv.flusher = old.flusher
		} else {
			client := firecracker.NewClient(paths.socket, min(a.cfg.Interval, firecracker.DefaultTimeout))
			nv.flusher = firecracker.NewFlusher(client, a.cfg.Interval, a.log.With("vm_id", cfg.ID))
		}
	}
	if cfg.Tap != "" {
		if old != nil && old.tap != nil && old.cfg.Tap == cfg.Tap {
			nv.tap = old.tap
		} else {
			nv.tap = newTapReader(a.cfg.SysRoot, cfg.Tap)
		}
	}
	return nv, nil
}

// start starts the sources of nv that old does not already run.
func (a *Agent) start(nv, old *vm) {
	if nv.cfg.PID > 0 && (old == nil || old.cfg.PID != nv.cfg.PID) {
		a.procs.Acquire(nv.cfg.PID)
	}
	if nv.reader != nil && (old == nil || old.reader != nv.reader) {
		nv.reader.Start()
	}
	if nv.flusher != nil && (old == nil || old.flusher != nv.flusher) {
		nv.flusher.Start()
	}
	if nv.tap != nil && (old == nil || old.tap != nv.tap) {
		nv.tap.sample()
	}
}

// retire stops the sources of old that nv (nil on detach) does not take
// over. Closing a reader returns at once even if no writer ever opened
// the FIFO.
func (a *Agent) retire(old, nv *vm) {
	if old.cfg.PID > 0 && (nv == nil || nv.cfg.PID != old.cfg.PID) {
		a.procs.Release(old.cfg.PID)
	}
	if old.reader != nil && (nv == nil || nv.reader != old.reader) {
		if err := old.reader.Close(); err != nil {
			a.log.Warn("closing metrics FIFO", "vm_id", old.cfg.ID, "err", err)
		}
	}
	if old.flusher != nil && (nv == nil || nv.flusher != old.flusher) {
		old.flusher.Close()
	}
}

func (v *vm) info() wire.VMInfo {
	in := wire.VMInfo{VMConfig: v.cfg, AttachedMs: v.attachedAt.UnixMilli()}
	if v.reader != nil {
		in.MetricsKind = v.reader.Kind()
		in.FIFOCreated = v.reader.Created()
	}
	return in
}

package vmtable

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/poll"
	"github.com/fcmon/fcmon/internal/hostagent/serve"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// maxSocketPath is the longest path a Unix socket address holds
// (sun_path is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// vm is one VM the agent watches: attached by POST /v1/vms, found by
// discovery, or both under the same id. It is immutable once stored: a
// change builds a new vm that takes over the unchanged sources of the old.
type vm struct {
	// cfg is the effective configuration, what was attached merged over
	// what discovery found; paths are its paths as the agent opens them.
	cfg      wire.VMConfig
	paths    resolvedPaths
	attached *wire.VMConfig   // the POST /v1/vms body; nil when only discovered
	found    *discovery.Found // discovery's account; nil when only attached

	attachedAt time.Time
	api        *firecracker.Client        // nil without an API socket; shared by flusher and poller
	reader     *firecracker.MetricsReader // nil without a metrics path
	flusher    *firecracker.Flusher       // nil without API socket and metrics path; called by poll
	tap        *tapReader                 // nil without tap
	poll       *poll.Poller               // guest, balloon, Firecracker's account; nil when there is none to ask
	refused    map[string]string          // source → why a path discovery found is not read
	labels     labelsFile                 // the launcher's labels file beside the API socket
}

// validateVM checks a configuration before anything is opened, with
// messages that say what was expected.
func (a *Table) validateVM(c wire.VMConfig) error {
	if c.ID == "" {
		return badRequest("id is required")
	}
	if !discovery.IDPattern.MatchString(c.ID) {
		return badRequest("id %q is not valid: 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", c.ID)
	}
	if c.PID < 0 || c.PID > serve.MaxPID {
		return badRequest("pid %d is out of range (1 to %d, or 0 for none)", c.PID, serve.MaxPID)
	}
	if err := validPath("metrics_fifo", c.MetricsFIFO); err != nil {
		return err
	}
	for field, p := range map[string]string{"api_socket": c.APISocket, "vsock_uds": c.VsockUDS} {
		if err := validPath(field, p); err != nil {
			return err
		}
		if len(p) > maxSocketPath {
			return badRequest("%s is %d bytes long; a Unix socket path has at most %d", field, len(p), maxSocketPath)
		}
	}
	if c.GuestAddr != "" {
		if c.VsockUDS != "" {
			return badRequest("guest_addr and vsock_uds are both set; a guest agent is read over one, never both")
		}
		ap, err := netip.ParseAddrPort(c.GuestAddr)
		if err != nil || ap.Port() == 0 {
			return badRequest("guest_addr %q is not an IP address and port such as 10.0.0.2:8080", c.GuestAddr)
		}
		if err := a.opt.GuestAllow.Check(ap.Addr()); err != nil {
			return badRequest("guest_addr %v", err)
		}
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

// resolvedPaths are a VM's paths with the roots they resolve in.
type resolvedPaths struct{ metrics, socket, vsock vmpath.Path }

// merge is the effective configuration of a VM: what was attached, and
// for what it leaves out, what discovery found.
func merge(id string, attached *wire.VMConfig, attachedPaths resolvedPaths, f *discovery.Found) (wire.VMConfig, resolvedPaths) {
	var cfg wire.VMConfig
	var paths resolvedPaths
	if attached != nil {
		cfg, paths = *attached, attachedPaths
	}
	cfg.ID = id
	if f == nil {
		return cfg, paths
	}
	if cfg.PID == 0 {
		cfg.PID = f.PID
	}
	if cfg.APISocket == "" && f.APISocket != "" {
		paths.socket = f.Path(f.APISocket)
		cfg.APISocket = paths.socket.Shown()
	}
	if cfg.MetricsFIFO == "" && f.Metrics != "" {
		paths.metrics = f.Path(f.Metrics)
		cfg.MetricsFIFO = paths.metrics.Shown()
	}
	if cfg.Tap == "" && len(f.Info.Taps) > 0 {
		cfg.Tap = f.Info.Taps[0]
	}
	if cfg.VsockUDS == "" && cfg.GuestAddr == "" && f.Vsock != "" {
		paths.vsock = f.Path(f.Vsock)
		cfg.VsockUDS = paths.vsock.Shown()
	}
	return cfg, paths
}

// prepare builds the vm, reusing what old (nil for a new VM) already has
// for the same sources. It opens a new metrics FIFO here, so that a bad
// path fails the request before anything changes; the sources start in
// start.
func (a *Table) prepare(cfg wire.VMConfig, paths resolvedPaths, attached *wire.VMConfig, f *discovery.Found, old *vm) (*vm, error) {
	nv := &vm{cfg: cfg, paths: paths, attached: attached, found: f, attachedAt: time.Now()}
	if old != nil {
		nv.attachedAt = old.attachedAt
	}
	if paths.metrics.Set() {
		if old != nil && old.reader != nil && old.paths.metrics.Name == paths.metrics.Name && a.sameFile(old.reader, paths.metrics) {
			nv.reader = old.reader
		} else {
			r, err := a.openMetrics(cfg.ID, paths.metrics, f)
			switch {
			case err == nil:
				nv.reader = r
			case paths.metrics.Attached:
				return nil, badRequest("metrics_fifo: %v", err)
			default: // discovered: the VM is watched without it
				nv.refused = map[string]string{"metrics_fifo": "refused: " + err.Error()}
				a.log.Warn("discovery: a metrics path the VM names is refused", "vm_id", cfg.ID, "err", err)
			}
		}
	}
	if paths.socket.Set() {
		if old != nil && old.api != nil && old.paths.socket.Same(paths.socket) {
			nv.api = old.api
		} else {
			nv.api = firecracker.NewClient(paths.socket.Shown(), paths.socket.Dial, min(a.opt.Interval, firecracker.DefaultTimeout))
		}
	}
	// FlushMetrics only makes sense when someone reads the lines.
	if nv.api != nil && nv.reader != nil {
		if old != nil && old.flusher != nil && old.api == nv.api {
			nv.flusher = old.flusher
		} else {
			nv.flusher = firecracker.NewFlusher(nv.api, a.opt.Interval, a.log.With("vm_id", cfg.ID))
		}
	}
	if cfg.Tap != "" {
		if old != nil && old.tap != nil && old.cfg.Tap == cfg.Tap {
			nv.tap = old.tap
		} else {
			nv.tap = newTapReader(a.opt.SysRoot, cfg.Tap)
		}
	}
	if nv.api != nil || cfg.VsockUDS != "" || cfg.GuestAddr != "" {
		if old != nil && old.poll != nil && old.api == nv.api && old.paths.vsock.Same(paths.vsock) && old.cfg.GuestAddr == cfg.GuestAddr {
			nv.poll = old.poll
		} else {
			nv.poll = a.newPoller(cfg.ID, nv.api, paths.socket.Root, paths.vsock, cfg.GuestAddr, f)
		}
	}
	return nv, nil
}

// start starts the sources of nv that old does not already run.
func (a *Table) start(nv, old *vm) {
	if nv.cfg.PID > 0 && (old == nil || old.cfg.PID != nv.cfg.PID) {
		a.procs.Acquire(nv.cfg.PID)
		a.cgroups.Acquire(nv.cfg.PID)
	}
	if nv.reader != nil && (old == nil || old.reader != nv.reader) {
		nv.reader.Start()
	}
	if nv.tap != nil && (old == nil || old.tap != nv.tap) {
		nv.tap.sample()
	}
	if nv.poll != nil {
		nv.poll.SetFlusher(nv.flusher) // FlushMetrics rides on the poller's rounds
	}
	if nv.poll != nil && (old == nil || old.poll != nv.poll) {
		nv.poll.Start()
	}
}

// retire stops the sources of old that nv (nil on removal) does not take
// over. Closing a reader returns at once even if no writer ever opened the
// FIFO.
func (a *Table) retire(old, nv *vm) {
	if old.cfg.PID > 0 && (nv == nil || nv.cfg.PID != old.cfg.PID) {
		a.procs.Release(old.cfg.PID)
		a.cgroups.Release(old.cfg.PID)
	}
	if old.poll != nil && (nv == nil || nv.poll != old.poll) {
		old.poll.Close()
	}
	if old.api != nil && (nv == nil || nv.api != old.api) {
		old.api.Close()
	}
	if old.reader != nil && (nv == nil || nv.reader != old.reader) {
		if nv == nil || nv.reader == nil || nv.reader.Key() != old.reader.Key() {
			a.fifos.release(old.reader.Key(), old.cfg.ID)
		}
		if err := old.reader.Close(); err != nil {
			a.log.Warn("closing metrics FIFO", "vm_id", old.cfg.ID, "err", err)
		}
	}
}

func (v *vm) info() wire.VMInfo {
	in := wire.VMInfo{VMConfig: v.cfg, Discovered: v.found != nil, AttachedMs: v.attachedAt.UnixMilli()}
	switch {
	case v.poll != nil:
		in.Firecracker = v.poll.FirecrackerInfo()
		if _, _, _, vsock := v.poll.Snapshot(time.Now()); in.VsockUDS == "" {
			in.VsockUDS = vsock
		}
	case v.found != nil:
		info := v.found.Info
		in.Firecracker = &info
	}
	if v.reader != nil {
		in.MetricsKind = v.reader.Kind()
		in.FIFOCreated = v.reader.Created()
	} else if v.found != nil {
		in.MetricsProblem = v.found.Refused["metrics_fifo"]
		if p := v.refused["metrics_fifo"]; p != "" {
			in.MetricsProblem = p
		}
	}
	return in
}

// sameFile reports whether p still resolves, with its checks, to the file r
// reads: an update that names it again keeps the reader and its totals.
func (a *Table) sameFile(r *firecracker.MetricsReader, p vmpath.Path) bool {
	key, err := p.Key(vmpath.Metrics)
	return err == nil && key == r.Key()
}

// openMetrics opens a VM's metrics output, which no other VM may read: two
// readers of one FIFO would each get some of its lines. Only a path given
// by POST /v1/vms is created when absent. A regular file of a discovered
// process is read for the lines of that process's run only.
func (a *Table) openMetrics(id string, p vmpath.Path, f *discovery.Found) (*firecracker.MetricsReader, error) {
	m, err := p.Root.OpenMetrics(p.Name, p.Attached)
	if err != nil {
		return nil, err
	}
	if holder, ok := a.fifos.claim(m.Key, id); !ok {
		m.File.Close()
		return nil, fmt.Errorf("%s is already read for VM %q: a metrics output belongs to one VM", p.Shown(), holder)
	}
	var since time.Time
	if f != nil {
		since = discover.StartTime(f.StartTicks)
	}
	return firecracker.NewMetricsReader(m, since), nil
}

// fifoClaims records which VM reads each metrics output.
type fifoClaims struct {
	mu sync.Mutex
	by map[vmpath.FileKey]string
}

// claim gives key to id unless another VM holds it; it returns the holder.
func (c *fifoClaims) claim(key vmpath.FileKey, id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[vmpath.FileKey]string{}
	}
	if h, ok := c.by[key]; ok && h != id {
		return h, false
	}
	c.by[key] = id
	return id, true
}

// release gives key up when id holds it.
func (c *fifoClaims) release(key vmpath.FileKey, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by[key] == id {
		delete(c.by, key)
	}
}

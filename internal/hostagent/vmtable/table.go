// Package vmtable is the host agent's table of VMs: each VM attached by
// POST /v1/vms or found by discovery (one per id), its sources (the VMM
// process and cgroup, the metrics FIFO, the API socket, the poller, the
// tap), how VMs ended and which ids clashed, and each VM's figures
// assembled from its sources. The host agent's root wires it to discovery
// and to the API (serve.Host).
package vmtable

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/cgroup"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
	"github.com/fcmon/fcmon/internal/hostagent/serve"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// Options are the table's settings, checked by the host agent's
// configuration.
type Options struct {
	ProcRoot, SysRoot string        // "/proc" and "/sys", or a test's trees
	Interval          time.Duration // how often every source is read
	MaxVMs            int           // the most VMs watched at once
	KernelLog         string        // the kernel's log (/dev/kmsg) for OOM kills; empty: not read
	GuestVsockPort    uint32        // the guest agent's vsock port
	AllowPaths        []string      // clean absolute roots an attach's paths must lie beneath
	GuestAllow        netpolicy.List
	GuestToken        string // the guest agents' bearer token; empty: none
	Log               *slog.Logger
}

// Table holds the VMs and the samplers. Create it with New, run its
// samplers with Run; Close detaches everything.
type Table struct {
	opt   Options
	log   *slog.Logger
	procs *procstat.Tracker
	// cgroups reads the VMM processes' cgroups, as procs their /proc.
	cgroups *cgroup.Tracker

	attachMu sync.Mutex // serializes attach and detach, which open and close files
	mu       sync.RWMutex
	vms      map[string]*vm
	exits    exitLog
	clashes  clashLog
	fifos    fifoClaims
}

// New returns an empty table; its errors are one line.
func New(opt Options) (*Table, error) {
	r, err := procstat.NewReader(opt.ProcRoot)
	if err != nil {
		return nil, err
	}
	return &Table{opt: opt, log: opt.Log,
		procs:   procstat.NewTracker(r, opt.Interval),
		cgroups: cgroup.NewTracker(cgroup.FS{Root: filepath.Join(opt.SysRoot, "fs/cgroup"), Proc: opt.ProcRoot}, opt.Interval),
		vms:     map[string]*vm{}}, nil
}

// Run samples the VMM processes, their cgroups and taps, and watches how
// processes end, until ctx ends.
func (a *Table) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.procs.Run(ctx) })
	wg.Go(func() { a.cgroups.Run(ctx) })
	wg.Go(func() { a.sampleTaps(ctx) })
	wg.Go(func() { a.watchExits(ctx) })
	if a.opt.KernelLog != "" {
		wg.Go(func() { a.watchOOMKills(ctx) })
	}
	wg.Wait()
}

// Host is the table as the API reads it.
func (a *Table) Host() serve.Host { return host{a} }

// sampleTaps reads the tap counters of every attached VM each interval.
func (a *Table) sampleTaps(ctx context.Context) {
	tick.Every(ctx, a.opt.Interval, func() {
		for _, v := range a.snapshot() {
			if v.tap != nil {
				v.tap.sample()
			}
		}
	})
}

// Close drops every VM, stopping its sources.
func (a *Table) Close() {
	for _, v := range a.snapshot() {
		a.remove(v.cfg.ID)
	}
}

// snapshot returns the attached VMs sorted by id.
func (a *Table) snapshot() []*vm {
	a.mu.RLock()
	vms := make([]*vm, 0, len(a.vms))
	for _, v := range a.vms {
		vms = append(vms, v)
	}
	a.mu.RUnlock()
	slices.SortFunc(vms, func(x, y *vm) int { return strings.Compare(x.cfg.ID, y.cfg.ID) })
	return vms
}

func (a *Table) lookup(id string) (*vm, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	v, ok := a.vms[id]
	return v, ok
}

// Attach attaches a VM, or updates the VM attached under the same id (a
// VM discovery found under that id becomes one with it): sources whose
// configuration is unchanged keep running (and their totals), changed ones
// are replaced. It reports whether the VM is new. On error nothing has
// changed.
func (a *Table) Attach(cfg wire.VMConfig) (wire.VMInfo, bool, error) {
	if err := a.validateVM(cfg); err != nil {
		return wire.VMInfo{}, false, err
	}
	var paths resolvedPaths
	root := a.attachRoot(cfg.PID)
	for _, p := range []struct {
		field, name string
		kind        vmpath.Kind
		into        *vmpath.Path
	}{
		{"metrics_fifo", cfg.MetricsFIFO, vmpath.Metrics, &paths.metrics},
		{"api_socket", cfg.APISocket, vmpath.Socket, &paths.socket},
		{"vsock_uds", cfg.VsockUDS, vmpath.Socket, &paths.vsock},
	} {
		if p.name == "" {
			continue
		}
		var err error
		if *p.into, err = a.checkPath(root, p.field, p.name, p.kind); err != nil {
			return wire.VMInfo{}, false, err
		}
	}
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	old, exists := a.lookup(cfg.ID)
	if exists && old.attached != nil && *old.attached == cfg {
		return old.info(), false, nil
	}
	if exists && old.found != nil && cfg.PID != 0 && cfg.PID != old.found.PID {
		return wire.VMInfo{}, false, httpapi.Errorf(http.StatusConflict,
			"VM %q is the discovered Firecracker process %d, not pid %d", cfg.ID, old.found.PID, cfg.PID)
	}
	if !exists && a.count() >= a.opt.MaxVMs {
		return wire.VMInfo{}, false, httpapi.Errorf(http.StatusConflict, "cannot attach more than %d VMs (see --max-vms)", a.opt.MaxVMs)
	}
	var f *discovery.Found
	if exists {
		f = old.found
	}
	nv, err := a.replace(cfg.ID, &cfg, paths, f)
	if err != nil {
		return wire.VMInfo{}, false, err
	}
	a.log.Info("VM attached", "vm_id", cfg.ID, "pid", nv.cfg.PID, "metrics_fifo", nv.cfg.MetricsFIFO,
		"api_socket", nv.cfg.APISocket, "vsock_uds", nv.cfg.VsockUDS, "guest_addr", cfg.GuestAddr, "tap", nv.cfg.Tap,
		"updated", exists, "discovered", f != nil)
	return nv.info(), !exists, nil
}

// ErrDiscovered is returned by Detach for a VM that is there because
// discovery found its Firecracker process: it leaves when the process does.
var ErrDiscovered = serve.ErrDiscovered

// Detach removes what POST /v1/vms attached. A VM discovery found stays,
// as discovered only; one that is only discovered gives ErrDiscovered.
// false when no VM has id.
func (a *Table) Detach(id string) (bool, error) {
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	v, ok := a.lookup(id)
	switch {
	case !ok:
		return false, nil
	case v.attached == nil:
		return true, ErrDiscovered
	}
	if _, err := a.replace(id, nil, resolvedPaths{}, v.found); err != nil {
		return true, err
	}
	a.log.Info("VM detached", "vm_id", id, "still_discovered", v.found != nil)
	return true, nil
}

// remove drops the VM whatever brought it, stopping its sources.
func (a *Table) remove(id string) {
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	a.mu.Lock()
	v, ok := a.vms[id]
	delete(a.vms, id)
	a.mu.Unlock()
	if ok {
		a.retire(v, nil)
		if v.found != nil {
			v.found.Root.Close()
		}
	}
}

// replace makes the VM id what attached and f say (both nil: gone),
// reusing the sources that stay the same, and returns it (nil when gone).
// The caller holds attachMu. On error nothing has changed.
func (a *Table) replace(id string, attached *wire.VMConfig, attachedPaths resolvedPaths, f *discovery.Found) (*vm, error) {
	old, exists := a.lookup(id)
	if !exists {
		old = nil
	}
	if attached == nil && f == nil {
		if old != nil {
			a.mu.Lock()
			delete(a.vms, id)
			a.mu.Unlock()
			a.retire(old, nil)
		}
		return nil, nil
	}
	cfg, paths := merge(id, attached, attachedPaths, f)
	nv, err := a.prepare(cfg, paths, attached, f, old)
	if err != nil {
		return nil, err
	}
	a.start(nv, old)
	a.mu.Lock()
	a.vms[id] = nv
	a.mu.Unlock()
	if old != nil {
		a.retire(old, nv)
	}
	return nv, nil
}

func (a *Table) count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.vms)
}

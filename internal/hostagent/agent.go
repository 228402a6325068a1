// Package hostagent is the host agent: it runs beside Firecracker on each
// host and serves, over HTTP, what a guest cannot report about itself — the
// VMM process's CPU and memory, Firecracker's own network and disk figures
// from its metrics FIFO, and tap counters — for every VM attached to it.
package hostagent

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/tlsconf"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/cgroup"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
	"github.com/fcmon/fcmon/internal/hostagent/serve"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// Agent holds the attached VMs and the samplers. Create it with New, serve
// it with Serve; Close detaches everything.
type Agent struct {
	cfg   Config
	set   settings
	token string
	log   *slog.Logger
	procs *procstat.Tracker
	// cgroups reads the VMM processes' cgroups, as procs their /proc.
	cgroups *cgroup.Tracker
	tls     *tlsconf.Server // nil: plain HTTP

	attachMu sync.Mutex // serializes attach and detach, which open and close files
	mu       sync.RWMutex
	vms      map[string]*vm
	exits    exitLog
	clashes  clashLog
	fifos    fifoClaims
}

// New validates cfg and returns an Agent. Its errors are one line, fit to
// print before exiting.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	set, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	r, err := procstat.NewReader(cfg.ProcRoot)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, set: set, token: set.token, log: log,
		procs:   procstat.NewTracker(r, cfg.Interval),
		cgroups: cgroup.NewTracker(cgroup.FS{Root: filepath.Join(cfg.SysRoot, "fs/cgroup"), Proc: cfg.ProcRoot}, cfg.Interval),
		vms:     map[string]*vm{}}
	if cfg.Discover {
		for _, o := range discovery.SubIDOverlaps(set.discoverUIDs, "/etc/subuid", "/etc/subgid") {
			log.Warn("--discover-uids meets a user's subordinate ids: processes of that user's namespaces would be discovered", "entry", o)
		}
	}
	if cfg.TLSCert != "" {
		a.tls, err = tlsconf.NewServer(tlsconf.ServerOptions{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			ClientCAFile: cfg.TLSClientCA, OnReloadError: func(err error) {
				log.Error("re-reading the TLS certificate failed; serving the previous one", "err", err)
			}})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Run serves the agent on its configured address until ctx ends, then
// shuts down (see Serve).
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}

// Serve answers requests on ln (over TLS when configured) and samples in
// the background until ctx ends; it then stops accepting, gives requests
// in flight up to ShutdownTimeout, and detaches every VM. SIGHUP re-reads
// the TLS files. It returns nil after a clean shutdown.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBg := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.procs.Run(bg) })
	wg.Go(func() { a.cgroups.Run(bg) })
	wg.Go(func() { a.sampleTaps(bg) })
	wg.Go(func() { a.watchExits(bg) })
	if a.cfg.KernelLog != "" {
		wg.Go(func() { a.watchOOMKills(bg) })
	}
	if a.cfg.Discover {
		wg.Go(func() {
			discovery.Run(bg, discovery.Options{ProcRoot: a.cfg.ProcRoot, Interval: a.cfg.Interval, Allow: a.set.paths,
				Scope: a.set.scope, UIDs: a.set.discoverUIDs, VMs: a, Logger: a.log})
		})
	}
	if a.tls != nil {
		wg.Go(func() { a.tls.ReloadOnHangup(bg, a.log) })
	}
	defer func() {
		stopBg()
		wg.Wait()
		a.Close()
	}()
	return httpapi.Server{
		Handler:           a.Handler(),
		TLS:               a.tls,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ShutdownTimeout:   a.cfg.ShutdownTimeout,
		Log:               a.log,
		Listening:         "host agent listening",
		LogAttrs: []any{"interval", a.cfg.Interval.String(), "auth", a.token != "", "discover", a.cfg.Discover,
			"version", version.Version},
	}.Run(ctx, ln)
}

// sampleTaps reads the tap counters of every attached VM each interval.
func (a *Agent) sampleTaps(ctx context.Context) {
	tick := time.NewTicker(a.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, v := range a.snapshot() {
			if v.tap != nil {
				v.tap.sample()
			}
		}
	}
}

// Close drops every VM, stopping its sources.
func (a *Agent) Close() {
	for _, v := range a.snapshot() {
		a.remove(v.cfg.ID)
	}
}

// snapshot returns the attached VMs sorted by id.
func (a *Agent) snapshot() []*vm {
	a.mu.RLock()
	vms := make([]*vm, 0, len(a.vms))
	for _, v := range a.vms {
		vms = append(vms, v)
	}
	a.mu.RUnlock()
	slices.SortFunc(vms, func(x, y *vm) int { return strings.Compare(x.cfg.ID, y.cfg.ID) })
	return vms
}

func (a *Agent) lookup(id string) (*vm, bool) {
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
func (a *Agent) Attach(cfg wire.VMConfig) (wire.VMInfo, bool, error) {
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
	if !exists && a.count() >= a.cfg.MaxVMs {
		return wire.VMInfo{}, false, httpapi.Errorf(http.StatusConflict, "cannot attach more than %d VMs (see --max-vms)", a.cfg.MaxVMs)
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
func (a *Agent) Detach(id string) (bool, error) {
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
func (a *Agent) remove(id string) {
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
func (a *Agent) replace(id string, attached *wire.VMConfig, attachedPaths resolvedPaths, f *discovery.Found) (*vm, error) {
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

func (a *Agent) count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.vms)
}

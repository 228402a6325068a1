package hostagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// maxProbes bounds the processes whose API is asked at once.
const maxProbes = 256

// tracked is a Firecracker process discovery knows: the VM it became, or
// why it has not yet.
type tracked struct {
	startTicks uint64
	id         string    // the VM's id once its API answered; "" before
	nextTry    time.Time // when to ask its API again
	tries      int
	probing    bool // a probe of it is under way
	ignored    bool // outside --discover-uids: never asked
}

// discovery finds the host's Firecracker processes and makes VMs of them.
// Its loop scans /proc every interval; each new process is probed in a
// goroutine of its own, bounded by its own budget, so a process that
// answers slowly or not at all never delays another's discovery.
type discovery struct {
	a  *Agent
	sc *discover.Scanner

	mu    sync.Mutex // guards known
	known map[int]*tracked
	slots chan struct{} // one per probe under way
	wg    sync.WaitGroup
}

// discoverLoop runs discovery until ctx ends, then waits for its probes.
// A VM appears within two intervals of its API answering and leaves
// within two of its process exiting.
func (a *Agent) discoverLoop(ctx context.Context) {
	d := &discovery{a: a, sc: discover.NewScanner(a.cfg.ProcRoot), known: map[int]*tracked{},
		slots: make(chan struct{}, maxProbes)}
	defer d.wg.Wait()
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		d.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *discovery) once(ctx context.Context) {
	procs, err := d.sc.Scan()
	if err != nil {
		d.a.log.Warn("discovery: reading /proc failed", "err", err)
		return
	}
	alive := make(map[int]bool, len(procs))
	var gone []*tracked
	var ask []discover.Process
	now := time.Now()
	d.mu.Lock()
	for _, p := range procs {
		alive[p.PID] = true
		k := d.known[p.PID]
		if k != nil && k.startTicks != p.StartTicks { // the pid was reused
			gone = append(gone, k)
			k = nil
		}
		if k == nil {
			k = &tracked{startTicks: p.StartTicks}
			d.known[p.PID] = k
			if !d.a.set.discoverUIDs.all(p.UIDs) {
				k.ignored = true
				d.a.log.Info("discovery: not watching a Firecracker process of a user outside --discover-uids",
					"pid", p.PID, "uid", p.UIDs[0], "euid", p.UIDs[1], "discover_uids", d.a.set.discoverUIDs.String())
			}
		}
		if !k.ignored && !k.probing && k.id == "" && !now.Before(k.nextTry) {
			ask = append(ask, p)
		}
	}
	for pid, k := range d.known {
		if !alive[pid] {
			gone = append(gone, k)
			delete(d.known, pid)
		}
	}
	// The processes never asked come first, then those that failed before.
	slices.SortStableFunc(ask, func(x, y discover.Process) int { return d.known[x.PID].tries - d.known[y.PID].tries })
	d.mu.Unlock()
	for _, k := range gone {
		d.a.lose(k)
	}
	for _, p := range ask {
		select {
		case d.slots <- struct{}{}:
		default:
			return // the rest wait for the next round
		}
		d.mu.Lock()
		k := d.known[p.PID]
		if k == nil || k.startTicks != p.StartTicks {
			d.mu.Unlock()
			<-d.slots
			continue
		}
		k.probing = true
		d.mu.Unlock()
		d.wg.Go(func() {
			defer func() { <-d.slots }()
			d.probe(ctx, p, k)
		})
	}
}

// probe asks a new process's API what it is and adds its VM; a process
// whose API does not answer yet (still starting) is asked again, backing
// off to every 8 intervals.
func (d *discovery) probe(ctx context.Context, p discover.Process, k *tracked) {
	a := d.a
	pctx, cancel := context.WithTimeout(ctx, min(a.cfg.Interval, 2*time.Second))
	defer cancel()
	f, id, err := d.ask(pctx, p)
	d.mu.Lock()
	defer d.mu.Unlock()
	k.probing = false
	if err == nil && d.known[p.PID] != k {
		err = errors.New("its process exited while it was asked") // lose has already run
	}
	if err == nil {
		id, err = a.adopt(id, f)
	}
	if err != nil {
		if f != nil {
			f.root.Close()
		}
		k.tries++
		k.nextTry = time.Now().Add(time.Duration(min(k.tries, 8)) * a.cfg.Interval)
		if k.tries == 1 || k.tries%30 == 0 {
			a.log.Info("discovery: not watching a Firecracker process (yet)", "pid", p.PID, "tries", k.tries, "err", err)
		}
		return
	}
	k.id = id
}

// ask finds the process's API socket — the one on its command line, else
// one of the Unix sockets it listens on that answers as Firecracker's API
// — and what the VM is made of. Every path goes through the process's
// Root: inside its jail, beneath --allow-paths, owned by its user.
func (d *discovery) ask(ctx context.Context, p discover.Process) (*found, string, error) {
	a := d.a
	root, err := vmpath.Process(a.cfg.ProcRoot, p.PID, p.UIDs[3], a.set.paths)
	if err != nil {
		return nil, "", err
	}
	if start, ok := d.sc.StartTicks(p.PID); !ok || start != p.StartTicks {
		root.Close()
		return nil, "", errors.New("its process exited while it was read")
	}
	if !a.inScope(root) {
		root.Close()
		return nil, "", errors.New("its jail lies outside --discover-scope")
	}
	candidates := []string{p.APISock}
	for _, l := range p.Listening {
		if !slices.Contains(candidates, l) {
			candidates = append(candidates, l)
		}
	}
	var errs []error
	for _, sock := range candidates {
		if err := a.admit(root, sock, vmpath.Socket); err != nil {
			errs = append(errs, err)
			continue
		}
		c := firecracker.NewClient(root.Show(sock), func(ctx context.Context) (net.Conn, error) { return root.Dial(ctx, sock) },
			min(a.cfg.Interval, time.Second))
		ii, err := c.InstanceInfo(ctx)
		if err != nil {
			c.Close()
			errs = append(errs, err)
			continue
		}
		vc, err := c.VMConfig(ctx)
		c.Close()
		if err != nil {
			root.Close()
			return nil, "", err
		}
		f := &found{pid: p.PID, startTicks: p.StartTicks, root: root, apiSocket: sock, info: firecracker.Info(ii, vc),
			refused: map[string]string{}}
		metrics := p.MetricsPath
		if vc.Metrics != nil && vc.Metrics.MetricsPath != "" {
			metrics = vc.Metrics.MetricsPath
		}
		f.metrics = a.checkFound(f, "metrics_fifo", metrics, vmpath.Metrics)
		if vc.Vsock != nil {
			f.vsock = a.checkFound(f, "vsock_uds", vc.Vsock.UDSPath, vmpath.Socket)
		}
		id := ii.ID
		if id == "" {
			id = p.ID
		}
		if !vmIDPattern.MatchString(id) {
			id = "pid-" + strconv.Itoa(p.PID)
		}
		return f, id, nil
	}
	root.Close()
	return nil, "", fmt.Errorf("no API socket answered: %w", errors.Join(errs...))
}

// checkFound returns name when it passes the checks of its kind (and
// --discover-scope), else "" with the reason kept in f.refused: a VM whose
// metrics or vsock path is refused is still watched, without that source.
func (a *Agent) checkFound(f *found, field, name string, kind vmpath.Kind) string {
	if name == "" {
		return ""
	}
	if err := a.admit(f.root, name, kind); err != nil {
		f.refused[field] = "refused: " + err.Error()
		a.log.Warn("discovery: a path the VM names is refused", "pid", f.pid, "field", field, "err", err)
		return ""
	}
	return name
}

// adopt adds the VM discovery found as id, or the id it is renamed to:
// a process never takes over a VM another process holds, nor one attached
// by POST /v1/vms unless it is that VM's process (its pid, or the very API
// socket attached). A clash is recorded for the manager, and the newcomer
// is the one renamed, id@pid.
func (a *Agent) adopt(id string, f *found) (string, error) {
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	old, exists := a.lookup(id)
	if exists && !a.sameVM(old, f) {
		renamed := id + "@" + strconv.Itoa(f.pid)
		holder := 0
		if old.found != nil {
			holder = old.found.pid
		} else if old.attached != nil {
			holder = old.attached.PID
		}
		a.clashes.add(wire.IDClash{ID: id, PID: f.pid, HolderPID: holder, RenamedTo: renamed, AtMs: time.Now().UnixMilli()})
		a.log.Warn("discovery: a Firecracker process reports the id of another VM; it is watched under another id",
			"vm_id", id, "pid", f.pid, "holder_pid", holder, "renamed_to", renamed)
		id = renamed
		old, exists = a.lookup(id)
	}
	var attached *wire.VMConfig
	var paths resolvedPaths
	if exists {
		attached, paths = old.attached, old.paths
	}
	if !exists && a.count() >= a.cfg.MaxVMs {
		return "", errors.New("--max-vms reached")
	}
	if _, err := a.replace(id, attached, paths, f); err != nil {
		return "", err
	}
	a.log.Info("VM discovered", "vm_id", id, "pid", f.pid, "jailed", f.root.Jailed(), "jail", f.root.Dir(),
		"api_socket", f.root.Show(f.apiSocket), "vsock", f.vsock, "metrics", f.metrics, "vcpus", f.info.VCPUs,
		"balloon_stats", f.info.BalloonStats)
	return id, nil
}

// sameVM reports whether the process f describes may be the VM v: v has
// no process yet and was attached with f's pid or f's very API socket.
func (a *Agent) sameVM(v *vm, f *found) bool {
	if v.found != nil {
		return v.found.pid == f.pid
	}
	c := v.attached
	if c == nil {
		return false
	}
	if c.PID != 0 {
		return c.PID == f.pid
	}
	if !v.paths.socket.Set() {
		return false
	}
	mine, err1 := v.paths.socket.Key(vmpath.Socket)
	theirs, err2 := f.root.Key(f.apiSocket, vmpath.Socket)
	return err1 == nil && err2 == nil && mine == theirs
}

// lose forgets what discovery brought of a VM whose process is gone; a VM
// attached by POST /v1/vms too stays, as attached only.
func (a *Agent) lose(k *tracked) {
	if k.id == "" {
		return
	}
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	v, ok := a.lookup(k.id)
	if !ok || v.found == nil {
		return
	}
	if _, err := a.replace(k.id, v.attached, v.paths, nil); err != nil {
		a.log.Warn("discovery: removing a VM", "vm_id", k.id, "err", err)
	}
	v.found.root.Close()
	a.exits.depart(k.id, v.found.pid, time.Now())
	a.log.Info("VM gone: its Firecracker process exited", "vm_id", k.id, "pid", v.found.pid)
}

// admit checks a path a discovered VM names: it passes root's checks (kind,
// owner, inside the jail or beneath --allow-paths) and --discover-scope.
func (a *Agent) admit(root *vmpath.Root, name string, kind vmpath.Kind) error {
	where, err := root.Locate(name, kind)
	if err != nil {
		return err
	}
	if !root.Jailed() && !a.inScopeDir(where) {
		return errors.New(where + " lies outside --discover-scope")
	}
	return nil
}

// inScope reports whether --discover-scope covers root: a jail must lie
// below one of its directories; a plain process's paths are checked one
// by one (admit).
func (a *Agent) inScope(root *vmpath.Root) bool {
	return !root.Jailed() || a.inScopeDir(root.Dir())
}

// inScopeDir reports whether where lies below one of --discover-scope's
// directories (always, without the flag).
func (a *Agent) inScopeDir(where string) bool {
	if len(a.set.scope) == 0 {
		return true
	}
	for _, s := range a.set.scope {
		if where == s || strings.HasPrefix(where, s+"/") {
			return true
		}
	}
	return false
}

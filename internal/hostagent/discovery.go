package hostagent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
)

// tracked is a Firecracker process discovery knows: the VM it became, or
// why it has not yet.
type tracked struct {
	startTicks uint64
	id         string    // the VM's id once its API answered; "" before
	nextTry    time.Time // when to ask its API again
	tries      int
}

// discoverLoop finds the host's Firecracker processes every interval,
// asks each new one's API what it is, and adds its VM; a VM whose process
// is gone is removed. A VM therefore appears within two intervals of its
// API answering and leaves within two of its process exiting.
func (a *Agent) discoverLoop(ctx context.Context) {
	sc := discover.NewScanner(a.cfg.ProcRoot)
	known := map[int]*tracked{}
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		a.discoverOnce(ctx, sc, known)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) discoverOnce(ctx context.Context, sc *discover.Scanner, known map[int]*tracked) {
	procs, err := sc.Scan()
	if err != nil {
		a.log.Warn("discovery: reading /proc failed", "err", err)
		return
	}
	alive := map[int]bool{}
	for _, p := range procs {
		if !a.inScope(p) {
			continue
		}
		alive[p.PID] = true
		k := known[p.PID]
		if k != nil && k.startTicks != p.StartTicks { // the pid was reused
			a.lose(k)
			k = nil
		}
		if k == nil {
			k = &tracked{startTicks: p.StartTicks}
			known[p.PID] = k
		}
		if k.id == "" && !time.Now().Before(k.nextTry) {
			a.probe(ctx, sc, p, k)
		}
	}
	for pid, k := range known {
		if !alive[pid] {
			a.lose(k)
			delete(known, pid)
		}
	}
}

// probe asks a new process's API what it is and adds its VM; a process
// whose API does not answer yet (still starting) is asked again, backing
// off to every 8 intervals.
func (a *Agent) probe(ctx context.Context, sc *discover.Scanner, p discover.Process, k *tracked) {
	pctx, cancel := context.WithTimeout(ctx, min(a.cfg.Interval, 2*time.Second))
	defer cancel()
	f, id, err := a.ask(pctx, sc, p)
	if err != nil {
		k.tries++
		k.nextTry = time.Now().Add(time.Duration(min(k.tries, 8)) * a.cfg.Interval)
		if k.tries == 1 || k.tries%30 == 0 {
			a.log.Debug("discovery: a Firecracker process does not answer on its API yet", "pid", p.PID, "err", err)
		}
		return
	}
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	old, exists := a.lookup(id)
	if exists && old.found != nil && old.found.pid != p.PID {
		// Two processes report one id: keep the first, name the second apart.
		id = id + "@" + strconv.Itoa(p.PID)
		old, exists = a.lookup(id)
	}
	var attached *wire.VMConfig
	var paths resolvedPaths
	if exists {
		attached, paths = old.attached, old.paths
	}
	if !exists && a.count() >= a.cfg.MaxVMs {
		a.log.Warn("discovery: not watching a VM: --max-vms reached", "vm_id", id, "max_vms", a.cfg.MaxVMs)
		k.nextTry = time.Now().Add(8 * a.cfg.Interval)
		return
	}
	if _, err := a.replace(id, attached, paths, f); err != nil {
		a.log.Warn("discovery: cannot watch a VM", "vm_id", id, "pid", p.PID, "err", err)
		k.nextTry = time.Now().Add(8 * a.cfg.Interval)
		return
	}
	k.id = id
	a.log.Info("VM discovered", "vm_id", id, "pid", p.PID, "jailed", p.Jailed, "api_socket", f.apiSocket,
		"vsock", f.vsock, "metrics", f.metrics, "vcpus", f.info.VCPUs, "balloon_stats", f.info.BalloonStats)
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
	a.exits.depart(k.id, v.found.pid, time.Now())
	a.log.Info("VM gone: its Firecracker process exited", "vm_id", k.id, "pid", v.found.pid)
}

// ask finds the process's API socket — the one on its command line, else
// one of the Unix sockets it listens on that answers as Firecracker's API
// — and what the VM is made of.
func (a *Agent) ask(ctx context.Context, sc *discover.Scanner, p discover.Process) (*found, string, error) {
	candidates := []string{p.APISock}
	for _, l := range p.Listening {
		if !slices.Contains(candidates, l) {
			candidates = append(candidates, l)
		}
	}
	var lastErr error = errors.New("no API socket")
	for _, sock := range candidates {
		if !discover.Exists(sock) {
			continue
		}
		c := firecracker.NewClient(sock, min(a.cfg.Interval, time.Second))
		ii, err := c.InstanceInfo(ctx)
		if err != nil {
			c.Close()
			lastErr = err
			continue
		}
		vc, err := c.VMConfig(ctx)
		c.Close()
		if err != nil {
			return nil, "", err
		}
		f := &found{pid: p.PID, startTicks: p.StartTicks, apiSocket: sock, info: infoOf(ii, vc)}
		if vc.Metrics != nil && vc.Metrics.MetricsPath != "" {
			f.metrics = sc.HostPath(p, vc.Metrics.MetricsPath)
		} else if p.MetricsPath != "" {
			f.metrics = p.MetricsPath
		}
		if vc.Vsock != nil && vc.Vsock.UDSPath != "" {
			f.vsock = sc.HostPath(p, vc.Vsock.UDSPath)
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
	return nil, "", lastErr
}

// inScope reports whether --discover-scope covers the process: its jail
// root, else its API socket or a socket it listens on, lies below one of
// the scope's directories.
func (a *Agent) inScope(p discover.Process) bool {
	if len(a.set.scope) == 0 {
		return true
	}
	var where []string
	if p.Jailed {
		if root, err := os.Readlink(p.Root); err == nil {
			where = append(where, root)
		}
	} else {
		where = append(append(where, p.APISock), p.Listening...)
	}
	for _, w := range where {
		for _, s := range a.set.scope {
			if w == s || strings.HasPrefix(w, s+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

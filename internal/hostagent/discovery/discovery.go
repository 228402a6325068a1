// Package discovery finds every Firecracker process on the host that the
// host agent may watch (of a user in --discover-uids, in --discover-scope),
// asks each new one's API what it is — each in a goroutine of its own,
// with its own budget — checks every path it names (package vmpath), and
// hands what it found to the agent's VM table; a VM whose process is gone
// is taken out again.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// IDPattern is what a VM id must be: 1 to 128 letters, digits, '.', '_',
// ':' or '-', starting with a letter or digit.
var IDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

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
	// recheck: adopted without a metrics output found (a launcher
	// configures it through the API after starting the process): asked
	// again, backing off, until one is.
	recheck bool
}

// Found is what discovery learnt of a Firecracker process and its API. Its
// paths are as the process names them, resolved in Root (its jail, or the
// host's root with its working directory), which the VM holds until
// discovery loses it.
type Found struct {
	PID        int
	StartTicks uint64
	Root       *vmpath.Root
	APISocket  string
	Metrics    string // "" when there is none, or it was refused
	Vsock      string
	Info       wire.FirecrackerInfo
	Refused    map[string]string // field → why a path it named is not used
}

// Path is name in the process's root.
func (f *Found) Path(name string) vmpath.Path { return vmpath.Path{Root: f.Root, Name: name} }

// VMs is the agent's VM table as discovery feeds it.
type VMs interface {
	// Adopt adds the VM f is under id, or another id it returns (a clash);
	// an error leaves f's Root to the caller.
	Adopt(id string, f *Found) (string, error)
	// Lose removes what discovery brought of VM id: its process is gone.
	Lose(id string)
}

// Options configure discovery.
type Options struct {
	ProcRoot string
	Interval time.Duration
	// Allow are the directories a path must lie beneath (a jail below);
	// Scope, when set, the directories a VM must lie below.
	Allow, Scope []string
	UIDs         UIDSet
	VMs          VMs
	Logger       *slog.Logger
}

// discovery finds the host's Firecracker processes and makes VMs of them.
// Its loop scans /proc every interval; each new process is probed in a
// goroutine of its own, bounded by its own budget, so a process that
// answers slowly or not at all never delays another's discovery.
type discovery struct {
	o   Options
	log *slog.Logger
	sc  *discover.Scanner

	mu    sync.Mutex // guards known
	known map[int]*tracked
	slots chan struct{} // one per probe under way
	wg    sync.WaitGroup
}

// Run runs discovery until ctx ends, then waits for its probes. A VM
// appears within two intervals of its API answering and leaves within two
// of its process exiting.
func Run(ctx context.Context, o Options) {
	d := &discovery{o: o, log: o.Logger, sc: discover.NewScanner(o.ProcRoot), known: map[int]*tracked{},
		slots: make(chan struct{}, maxProbes)}
	defer d.wg.Wait()
	tick.NowAndEvery(ctx, o.Interval, func() { d.once(ctx) })
}

func (d *discovery) once(ctx context.Context) {
	procs, err := d.sc.Scan()
	if err != nil {
		d.log.Warn("discovery: reading /proc failed", "err", err)
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
			if !d.o.UIDs.All(p.UIDs) {
				k.ignored = true
				d.log.Info("discovery: not watching a Firecracker process of a user outside --discover-uids",
					"pid", p.PID, "uid", p.UIDs[0], "euid", p.UIDs[1], "discover_uids", d.o.UIDs.String())
			}
		}
		if !k.ignored && !k.probing && (k.id == "" || k.recheck) && !now.Before(k.nextTry) {
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
		if k.id != "" {
			d.o.VMs.Lose(k.id)
		}
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
	pctx, cancel := context.WithTimeout(ctx, min(d.o.Interval, 2*time.Second))
	defer cancel()
	f, id, err := d.ask(pctx, p)
	d.mu.Lock()
	defer d.mu.Unlock()
	k.probing = false
	if err == nil && d.known[p.PID] != k {
		err = errors.New("its process exited while it was asked") // lose has already run
	}
	if err == nil {
		if k.id != "" {
			id = k.id // a recheck of a VM adopted (and perhaps renamed) before
		}
		id, err = d.o.VMs.Adopt(id, f)
	}
	if err != nil {
		if f != nil {
			f.Root.Close()
		}
		k.tries++
		k.nextTry = time.Now().Add(time.Duration(min(k.tries, 8)) * d.o.Interval)
		switch {
		case errors.Is(err, fs.ErrPermission) && k.tries == 1:
			// Not a VM still starting: this host agent may not look inside
			// another user's process. Say what it lacks, once.
			d.log.Warn("discovery: not allowed to read a Firecracker process of another user; the host agent needs CAP_SYS_PTRACE and CAP_DAC_OVERRIDE (its packaged unit grants them) or root",
				"pid", p.PID, "uid", p.UIDs[0], "err", err)
		case k.tries == 1 || k.tries%30 == 0:
			d.log.Info("discovery: not watching a Firecracker process (yet)", "pid", p.PID, "tries", k.tries, "err", err)
		}
		return
	}
	k.id = id
	k.recheck = f.Metrics == "" && strings.HasPrefix(f.Refused["metrics_fifo"], "not found")
	if k.recheck {
		k.tries++
		k.nextTry = time.Now().Add(time.Duration(min(k.tries, 8)) * d.o.Interval)
	}
}

// ask finds the process's API socket — the one on its command line, else
// one of the Unix sockets it listens on that answers as Firecracker's API
// — and what the VM is made of. Every path goes through the process's
// Root: inside its jail, beneath --allow-paths, owned by its user.
func (d *discovery) ask(ctx context.Context, p discover.Process) (*Found, string, error) {
	root, err := vmpath.Process(d.o.ProcRoot, p.PID, p.UIDs[3], d.o.Allow)
	if err != nil {
		return nil, "", err
	}
	if start, ok := d.sc.StartTicks(p.PID); !ok || start != p.StartTicks {
		root.Close()
		return nil, "", errors.New("its process exited while it was read")
	}
	if !d.inScope(root) {
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
		if err := d.admit(root, sock, vmpath.Socket); err != nil {
			errs = append(errs, err)
			continue
		}
		c := firecracker.NewClient(root.Show(sock), func(ctx context.Context) (net.Conn, error) { return root.Dial(ctx, sock) },
			min(d.o.Interval, time.Second))
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
		f := &Found{PID: p.PID, StartTicks: p.StartTicks, Root: root, APISocket: sock, Info: firecracker.Info(ii, vc),
			Refused: map[string]string{}}
		if metrics, why := d.metricsPath(p, root, vc); why != "" {
			f.Refused["metrics_fifo"] = "not found: " + why
		} else {
			f.Metrics = d.checkFound(f, "metrics_fifo", metrics, vmpath.Metrics)
		}
		if vc.Vsock != nil {
			f.Vsock = d.checkFound(f, "vsock_uds", vc.Vsock.UDSPath, vmpath.Socket)
		}
		id := ii.ID
		if id == "" {
			id = p.ID
		}
		if !IDPattern.MatchString(id) {
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
func (d *discovery) checkFound(f *Found, field, name string, kind vmpath.Kind) string {
	if name == "" {
		return ""
	}
	if err := d.admit(f.Root, name, kind); err != nil {
		f.Refused[field] = "refused: " + err.Error()
		d.log.Warn("discovery: a path the VM names is refused", "pid", f.PID, "field", field, "err", err)
		return ""
	}
	return name
}

// admit checks a path a discovered VM names: it passes root's checks (kind,
// owner, inside the jail or beneath --allow-paths) and --discover-scope.
func (d *discovery) admit(root *vmpath.Root, name string, kind vmpath.Kind) error {
	where, err := root.Locate(name, kind)
	if err != nil {
		return err
	}
	if !root.Jailed() && !d.inScopeDir(where) {
		return errors.New(where + " lies outside --discover-scope")
	}
	return nil
}

// inScope reports whether --discover-scope covers root: a jail must lie
// below one of its directories; a plain process's paths are checked one
// by one (admit).
func (d *discovery) inScope(root *vmpath.Root) bool {
	return !root.Jailed() || d.inScopeDir(root.Dir())
}

// inScopeDir reports whether where lies below one of --discover-scope's
// directories (always, without the flag).
func (d *discovery) inScopeDir(where string) bool {
	if len(d.o.Scope) == 0 {
		return true
	}
	for _, s := range d.o.Scope {
		if where == s || strings.HasPrefix(where, s+"/") {
			return true
		}
	}
	return false
}

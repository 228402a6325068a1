package registry

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// rereadEvery is how often the registry reads the VM list from the store
// even though no write went through this manager's API: a change made
// elsewhere (another manager sharing a PostgreSQL database, an operator's
// SQL) is polled within this plus about one poll interval. Writes through
// the API are seen at the collector's next read.
const rereadEvery = 10 * time.Second

// Registry caches the VM list, so that neither the collector, which asks
// for its targets every poll interval, nor the Prometheus export costs a
// database query each time: with 10,000 VMs, reading every row each second
// was a steady share of the manager's CPU and, on a loaded PostgreSQL,
// could miss the one-interval deadline. It registers the VMs host agents
// report (Register) within Limits, and forgets gone VMs (Run).
type Registry struct {
	st store.Store

	// stale is set by every write through the API (see notifyingStore) and
	// makes the next targets call read the store.
	stale atomic.Bool

	mu     sync.RWMutex
	vms    []store.VM
	index  map[string]int     // vms by id, under mu; set with setVMs
	list   []collector.Target // the collector's view of vms
	readAt time.Time          // when vms was read; zero: never

	// The host agents, likewise cached; hostsStale is set by writes.
	hostsStale  atomic.Bool
	hostList    []collector.HostTarget
	hostRows    []store.Host
	hostsReadAt time.Time

	hostVMs hostVMs
	// onEvent receives the events the registry makes (a host's VM gone:
	// vmm_exit); nil drops them.
	onEvent func(wire.Event)
	// forgotten carries the VMs pruned from the store, for the parts that
	// keep state per VM (Forgotten).
	forgotten chan []string
	limits    Limits
	admit     admitter
	exitsLim  exitLimiter
	log       *slog.Logger
	clock     func() time.Time
}

// Options configure a Registry.
type Options struct {
	Store  store.Store
	Limits Limits
	// OnEvent receives the events the registry makes (a host's VM gone:
	// vmm_exit); nil drops them.
	OnEvent func(wire.Event)
	Logger  *slog.Logger
	// Clock is the time; nil: time.Now.
	Clock func() time.Time
}

// New returns a Registry over the store.
func New(o Options) *Registry {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{st: o.Store, limits: o.Limits, onEvent: o.OnEvent, log: o.Logger, clock: o.Clock,
		forgotten: make(chan []string, 16),
		admit:     admitter{perMin: o.Limits.NewPerHostPerMinute}, exitsLim: exitLimiter{perMin: o.Limits.ExitEventsPerHostPerMinute}}
}

// Forgotten delivers the ids of the VMs the registry pruned from the store
// (gone too long, unsampled, or over MaxVMs): the collector and the history
// drop theirs. Read it, or pruning waits.
func (r *Registry) Forgotten() <-chan []string { return r.forgotten }

// Targets returns the VMs for the collector, reading them afresh when a
// write went through the API since the last read or rereadEvery has
// passed. On error the cache is kept, as the collector keeps polling the
// VMs it knows.
func (r *Registry) Targets(ctx context.Context) ([]collector.Target, error) {
	r.mu.RLock()
	list, readAt := r.list, r.readAt
	r.mu.RUnlock()
	// Clearing stale before reading means a write that lands during the
	// read marks the cache stale again, to be read at the next call.
	if !r.stale.Swap(false) && !readAt.IsZero() && time.Since(readAt) < r.rereadAfter() {
		return list, nil
	}
	start := time.Now()
	vms, err := r.st.ListVMs(ctx)
	if err != nil {
		r.stale.Store(true)
		return nil, err
	}
	// A VM a host agent reports is collected through it (Options.Hosts),
	// and a gone one not at all.
	list = make([]collector.Target, 0, len(vms))
	for _, vm := range vms {
		if vm.HostID != "" || vm.GoneMs != 0 {
			continue
		}
		list = append(list, collector.Target{ID: vm.ID, GuestIP: vm.GuestIP, GuestPort: vm.GuestPort,
			HostAgentURL: vm.HostAgentURL, VMMPID: vm.VMMPID, MetricsFIFO: vm.MetricsFIFO, APISocket: vm.APISocket})
	}
	r.mu.Lock()
	r.setVMs(vms)
	r.list, r.readAt = list, start
	r.mu.Unlock()
	return list, nil
}

// rereadAfter is how long the cache is trusted without a write through
// this manager: rereadEvery, and longer for large registries (a second per
// thousand VMs), whose reading costs more than its freshness is worth —
// the VMs host agents report are kept up to date without it (register).
func (r *Registry) rereadAfter() time.Duration {
	r.mu.RLock()
	n := len(r.vms)
	r.mu.RUnlock()
	return max(rereadEvery, time.Duration(n/1000)*time.Second)
}

// hostVMsChanged applies register's changes to the cache: VMs created,
// gone_ms set or cleared, launcher labels changed, without reading the
// store again.
func (r *Registry) hostVMsChanged(created []store.VM, gone map[string]int64, relabel map[string]labels.Set) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(gone) > 0 || len(relabel) > 0 {
		vms := slices.Clone(r.vms) // readers may hold the old slice
		for i := range vms {
			if ms, ok := gone[vms[i].ID]; ok {
				vms[i].GoneMs = ms
			}
			if set, ok := relabel[vms[i].ID]; ok {
				vms[i].LauncherLabels = set
				vms[i].MergeLabels()
			}
		}
		r.setVMs(vms)
	}
	if len(created) > 0 {
		vms := append(slices.Clone(r.vms), created...)
		slices.SortFunc(vms, func(a, b store.VM) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		r.setVMs(vms)
	}
}

// setVMs replaces the cached VMs and their index; r.mu is held.
func (r *Registry) setVMs(vms []store.VM) {
	r.vms = vms
	r.index = make(map[string]int, len(vms))
	for i := range vms {
		r.index[vms[i].ID] = i
	}
}

// CachedVM implements api.Cache: the VM as last read from the store.
func (r *Registry) CachedVM(id string) (store.VM, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if i, ok := r.index[id]; ok {
		return r.vms[i], true
	}
	return store.VM{}, false
}

// LabelsOf implements api.Cache: the VM's merged labels as last read.
func (r *Registry) LabelsOf(id string) (labels.Set, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if i, ok := r.index[id]; ok {
		return r.vms[i].Merged, true
	}
	return nil, false
}

// CachedVMs implements api.Cache: every VM as last read, in the store's
// order (name, then id).
func (r *Registry) CachedVMs() []store.VM {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.vms)
}

// CurrentVMs implements api.Cache: the VMs, read again first when a write
// went through the API since the last read. The slice is shared.
func (r *Registry) CurrentVMs(ctx context.Context) ([]store.VM, error) {
	r.mu.RLock()
	never := r.readAt.IsZero()
	r.mu.RUnlock()
	if never || r.stale.Load() {
		// On error the cache stands, as the collector keeps polling it.
		if _, err := r.Targets(ctx); err != nil && never {
			return nil, err
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.vms, nil
}

// changed marks the cache stale after a write to the VM registry.
func (r *Registry) Changed() { r.stale.Store(true) }

// hostsChanged marks the host agents stale after a write to them; the
// host VMs are read again before the next register.
func (r *Registry) HostsChanged() {
	r.hostsStale.Store(true)
	r.hostVMs.mu.Lock()
	r.hostVMs.byHost = nil
	r.hostVMs.mu.Unlock()
}

// forget drops a deleted VM from the cache at once, rather than at the
// next refresh.
func (r *Registry) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, vm := range r.vms {
		if vm.ID == id {
			r.setVMs(append(r.vms[:i:i], r.vms[i+1:]...))
			break
		}
	}
	for i, t := range r.list {
		if t.ID == id {
			r.list = append(r.list[:i:i], r.list[i+1:]...)
			break
		}
	}
	r.stale.Store(true)
}

// forgetMany drops VMs the store no longer holds from the cache, the host
// agents' map included, and hands them to onForget (the collector's and
// the history's share of them).
func (r *Registry) forgetMany(ids []string) {
	if len(ids) == 0 {
		return
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	r.mu.Lock()
	r.setVMs(slices.DeleteFunc(slices.Clone(r.vms), func(vm store.VM) bool { return drop[vm.ID] }))
	r.list = slices.DeleteFunc(slices.Clone(r.list), func(t collector.Target) bool { return drop[t.ID] })
	r.mu.Unlock()
	r.hostVMs.mu.Lock()
	for _, m := range r.hostVMs.byHost {
		for hv, vm := range m {
			if drop[vm.ID] {
				delete(m, hv)
			}
		}
	}
	r.hostVMs.mu.Unlock()
}

// Writes is st as the API should write through it: every write to the VM
// registry or the host agents marks the cache stale.
func (r *Registry) Writes(st store.Store) store.Store {
	return notifyingStore{st, r.Changed, r.HostsChanged}
}

// notifyingStore is the store as the API sees it: every write to the VM
// registry marks the registry's cache stale, whether or not it succeeded
// (a failed write may still have reached the database).
type notifyingStore struct {
	store.Store
	changed, hostsChanged func()
}

// CreateVM implements store.Store.
func (s notifyingStore) CreateVM(ctx context.Context, vm store.VM) (store.VM, error) {
	defer s.changed()
	return s.Store.CreateVM(ctx, vm)
}

// UpdateGuestIP implements store.Store.
func (s notifyingStore) UpdateGuestIP(ctx context.Context, id, ip string, port int) (store.VM, error) {
	defer s.changed()
	return s.Store.UpdateGuestIP(ctx, id, ip, port)
}

// DeleteVM implements store.Store.
func (s notifyingStore) DeleteVM(ctx context.Context, id string) error {
	defer s.changed()
	return s.Store.DeleteVM(ctx, id)
}

// CreateHost implements store.Store.
func (s notifyingStore) CreateHost(ctx context.Context, h store.Host) (store.Host, error) {
	defer s.hostsChanged()
	return s.Store.CreateHost(ctx, h)
}

// DeleteHost implements store.Store.
func (s notifyingStore) DeleteHost(ctx context.Context, id string, goneMs int64) error {
	defer s.hostsChanged()
	defer s.changed()
	return s.Store.DeleteHost(ctx, id, goneMs)
}

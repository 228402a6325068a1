package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// hostVMs is the registry's map of the VMs host agents report, by host and
// host VM id. Each host's entry is changed only by that host's collector
// goroutine (register), so it needs no more than the lock.
type hostVMs struct {
	loadMu sync.Mutex // one first load at a time
	mu     sync.Mutex
	byHost map[string]map[string]store.VM // host id → host VM id → VM
	names  map[string]string              // host id → host name as stored
}

// load replaces the map with what the store holds.
func (h *hostVMs) load(vms []store.VM, hosts []store.Host) {
	by := map[string]map[string]store.VM{}
	for _, vm := range vms {
		if vm.HostID == "" {
			continue
		}
		if by[vm.HostID] == nil {
			by[vm.HostID] = map[string]store.VM{}
		}
		by[vm.HostID][vm.HostVMID] = vm
	}
	names := map[string]string{}
	for _, host := range hosts {
		names[host.ID] = host.Name
	}
	h.mu.Lock()
	h.byHost, h.names = by, names
	h.mu.Unlock()
}

// register implements collector.Options.Register: the VMs a host agent
// reports get a registry entry (named after their host VM id), the ones it
// reported before and no longer does are marked gone, and those that
// return are no longer gone. A VM the store refuses is left out, and
// tried again when the host's set changes next.
func (r *Registry) Register(ctx context.Context, h collector.HostTarget, name string, vms []collector.HostVM, exits map[string]collector.HostExit) (map[string]string, error) {
	if err := r.ensureLoaded(ctx); err != nil {
		return nil, err
	}
	r.hostVMs.mu.Lock()
	known := r.hostVMs.byHost[h.ID]
	if known == nil {
		known = map[string]store.VM{}
		r.hostVMs.byHost[h.ID] = known
	}
	stored := r.hostVMs.names[h.ID]
	r.hostVMs.mu.Unlock()
	if name != "" && name != stored {
		if err := r.st.SetHostName(ctx, h.ID, clipName(name)); err == nil {
			r.hostVMs.mu.Lock()
			r.hostVMs.names[h.ID] = name
			r.hostVMs.mu.Unlock()
		}
	}
	now := r.clock().UnixMilli()
	ids := make(map[string]string, len(vms))
	present := make(map[string]bool, len(vms))
	var back []string
	var created []store.VM
	var errs []error
	var missing []string
	relabel := map[string]labels.Set{}  // VM id → its launcher's new labels
	launcher := map[string]labels.Set{} // of the VMs to register
	for _, v := range vms {
		present[v.HostVMID] = true
		set := r.launcherLabels(h, v)
		if vm, ok := r.lookupHostVM(known, v.HostVMID); ok {
			ids[v.HostVMID] = vm.ID
			if vm.GoneMs != 0 {
				back = append(back, vm.ID)
				vm.GoneMs = 0
				r.setHostVM(known, vm)
			}
			if !vm.LauncherLabels.Equal(set) {
				relabel[vm.ID] = set
				vm.LauncherLabels = set
				r.setHostVM(known, vm)
			}
			continue
		}
		missing = append(missing, v.HostVMID)
		if set != nil {
			launcher[v.HostVMID] = set
		}
	}
	var gone []string
	reasons := map[string]collector.HostExit{} // VM id → how its VMM ended
	r.hostVMs.mu.Lock()
	for hostVMID, vm := range known {
		if !present[hostVMID] && vm.GoneMs == 0 {
			gone = append(gone, vm.ID)
			if x, ok := exits[hostVMID]; ok {
				reasons[vm.ID] = x
			}
			vm.GoneMs = now
			known[hostVMID] = vm
		}
	}
	r.hostVMs.mu.Unlock()
	marks := make(map[string]int64, len(gone)+len(back))
	if len(gone) > 0 {
		errs = append(errs, r.st.SetVMsGone(ctx, gone, now))
		for _, id := range gone {
			marks[id] = now
			if r.onEvent != nil && r.exitsLim.allow(h.ID, h.URL, id, time.UnixMilli(now)) {
				e := wire.Event{VMID: id, Type: wire.EventVMMExit, TimestampMs: now,
					Message: "its Firecracker process exited: host agent " + h.URL + " no longer reports it",
					Detail:  map[string]string{"host_id": h.ID}}
				x := reasons[id]
				if x.Reason != "" {
					e.Message = "its Firecracker process " + x.Reason + " (host agent " + h.URL + ")"
					e.Detail["reason"] = x.Reason
				}
				for k, v := range x.Detail {
					e.Detail[k] = v
				}
				r.onEvent(e)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		k := r.roomFor(ctx, r.admit.take(h.ID, len(missing), time.UnixMilli(now)))
		if k < len(missing) {
			r.deferred(h, len(missing)-k, time.UnixMilli(now))
			missing = missing[:k]
		}
	}
	if len(relabel) > 0 {
		if err := r.st.SetLauncherLabels(ctx, relabel); err != nil {
			errs = append(errs, err)
			relabel = nil // read again with the VMs at the next reread
		}
	}
	if len(missing) > 0 {
		made, err := r.createHostVMs(ctx, h.ID, missing, launcher)
		if err != nil {
			errs = append(errs, err)
		}
		for _, vm := range made {
			ids[vm.HostVMID] = vm.ID
			r.setHostVM(known, vm)
		}
		created = made
	}
	if len(back) > 0 {
		errs = append(errs, r.st.SetVMsGone(ctx, back, 0))
		for _, id := range back {
			marks[id] = 0
		}
	}
	r.hostVMsChanged(created, marks, relabel)
	r.flushExits(h.ID, time.UnixMilli(now))
	return ids, errors.Join(errs...)
}

// launcherLabels are the labels a host agent reports for v, as the
// registry keeps them: nil when they break the rules (logged: a host
// agent checks them, so this is a host agent of another version or a
// bug, and the VM keeps no labels rather than some of them).
func (r *Registry) launcherLabels(h collector.HostTarget, v collector.HostVM) labels.Set {
	if len(v.Labels) == 0 {
		return nil
	}
	set := labels.Set(v.Labels)
	if err := set.Check(); err != nil {
		r.log.Warn("a host agent reports labels that break the rules; the VM keeps none", "host", h.URL, "host_vm_id", v.HostVMID, "err", err)
		return nil
	}
	return set
}

// flushExits sends the summary of host's vmm_exit events held back in a
// minute that has passed.
func (r *Registry) flushExits(hostID string, now time.Time) {
	if e, ok := r.exitsLim.due(hostID, now); ok && r.onEvent != nil {
		r.onEvent(e)
	}
}

func (r *Registry) lookupHostVM(known map[string]store.VM, hostVMID string) (store.VM, bool) {
	r.hostVMs.mu.Lock()
	defer r.hostVMs.mu.Unlock()
	vm, ok := known[hostVMID]
	return vm, ok
}

func (r *Registry) setHostVM(known map[string]store.VM, vm store.VM) {
	r.hostVMs.mu.Lock()
	known[vm.HostVMID] = vm
	r.hostVMs.mu.Unlock()
}

// createHostVMs registers the VMs a host agent found, in one transaction
// (or two). A VM's id is its host VM id when that is a UUID no other VM
// has (launchers often give each VM a UUID as --id), else a UUID derived
// from host and host VM id, so a VM that leaves and returns gets its id
// again.
func (r *Registry) createHostVMs(ctx context.Context, hostID string, hostVMIDs []string, launcher map[string]labels.Set) ([]store.VM, error) {
	derived := func(hostVMID string) string { return store.HostVMUUID(hostID, hostVMID) }
	var first, second []store.VM
	for _, hv := range hostVMIDs {
		vm := store.VM{ID: derived(hv), Name: clipName(hv), HostID: hostID, HostVMID: hv, LauncherLabels: launcher[hv]}
		if own, ok := store.ParseUUID(hv); ok {
			vm.ID = own
		}
		first = append(first, vm)
	}
	made, err := r.st.CreateVMs(ctx, first)
	if err != nil {
		return nil, fmt.Errorf("registering %d VMs of host %s: %w", len(first), hostID, err)
	}
	done := make(map[string]bool, len(made))
	for _, vm := range made {
		done[vm.HostVMID] = true
	}
	for _, vm := range first {
		if !done[vm.HostVMID] && vm.ID != derived(vm.HostVMID) { // its own UUID was taken
			vm.ID = derived(vm.HostVMID)
			second = append(second, vm)
		}
	}
	if len(second) > 0 {
		more, err := r.st.CreateVMs(ctx, second)
		if err != nil {
			return made, fmt.Errorf("registering %d VMs of host %s: %w", len(second), hostID, err)
		}
		made = append(made, more...)
	}
	if len(made) < len(first) {
		return made, fmt.Errorf("host %s: %d of its VMs could not be registered (their ids are taken)", hostID, len(first)-len(made))
	}
	return made, nil
}

// clipName makes a host's name for a VM fit the registry's rules: no
// control characters, at most 200 characters.
func clipName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
	if rs := []rune(s); len(rs) > 200 {
		s = string(rs[:200])
	}
	if strings.TrimSpace(s) == "" {
		return "unnamed"
	}
	return s
}

// ensureLoaded reads the host VMs once, before the first register.
func (r *Registry) ensureLoaded(ctx context.Context) error {
	r.hostVMs.loadMu.Lock()
	defer r.hostVMs.loadMu.Unlock()
	r.hostVMs.mu.Lock()
	loaded := r.hostVMs.byHost != nil
	r.hostVMs.mu.Unlock()
	if loaded {
		return nil
	}
	vms, err := r.st.ListVMs(ctx)
	if err != nil {
		return err
	}
	hosts, err := r.st.ListHosts(ctx)
	if err != nil {
		return err
	}
	r.hostVMs.load(vms, hosts)
	return nil
}

// Hosts is every host agent registered, cached like the VMs (reading the
// store when a write went through the API or rereadEvery passed).
func (r *Registry) Hosts(ctx context.Context) ([]collector.HostTarget, error) {
	r.mu.RLock()
	list, readAt := r.hostList, r.hostsReadAt
	r.mu.RUnlock()
	if !r.hostsStale.Swap(false) && !readAt.IsZero() && time.Since(readAt) < rereadEvery {
		return list, nil
	}
	start := time.Now()
	hs, err := r.st.ListHosts(ctx)
	if err != nil {
		r.hostsStale.Store(true)
		return nil, err
	}
	list = make([]collector.HostTarget, len(hs))
	for i, h := range hs {
		list[i] = collector.HostTarget{ID: h.ID, URL: h.URL}
	}
	r.mu.Lock()
	r.hostList, r.hostRows, r.hostsReadAt = list, hs, start
	r.mu.Unlock()
	return list, nil
}

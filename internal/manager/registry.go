package manager

import (
	"context"
	"sync"

	"github.com/fcmon/fcmon/internal/collector"
	"github.com/fcmon/fcmon/internal/export"
	"github.com/fcmon/fcmon/internal/store"
)

// registry caches the VM list the collector reads from the store each poll
// interval, so that the Prometheus export can name VMs without a database
// query per scrape.
type registry struct {
	st      store.Store
	samples *collector.Collector // set once before Run

	mu  sync.RWMutex
	vms []store.VM
}

// targets reads the VMs for the collector and refreshes the cache. On error
// the cache is kept, as the collector keeps polling the VMs it knows.
func (r *registry) targets(ctx context.Context) ([]collector.Target, error) {
	vms, err := r.st.ListVMs(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.vms = vms
	r.mu.Unlock()
	out := make([]collector.Target, len(vms))
	for i, vm := range vms {
		out[i] = collector.Target{ID: vm.ID, GuestIP: vm.GuestIP, GuestPort: vm.GuestPort,
			HostAgentURL: vm.HostAgentURL, VMMPID: vm.VMMPID, MetricsFIFO: vm.MetricsFIFO, APISocket: vm.APISocket}
	}
	return out, nil
}

// forget drops a deleted VM from the cache at once, rather than at the
// next refresh.
func (r *registry) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, vm := range r.vms {
		if vm.ID == id {
			r.vms = append(r.vms[:i:i], r.vms[i+1:]...)
			return
		}
	}
}

// latest returns the newest sample of every cached VM that has one, with
// its name, for the Prometheus export.
func (r *registry) latest() []export.Labeled {
	r.mu.RLock()
	vms := r.vms
	r.mu.RUnlock()
	out := make([]export.Labeled, 0, len(vms))
	for _, vm := range vms {
		if s, ok := r.samples.Latest(vm.ID); ok {
			out = append(out, export.Labeled{VMID: vm.ID, VMName: vm.Name, Sample: s})
		}
	}
	return out
}

// countingStore is the store as the history sees it: every rollup batch it
// writes is counted in the manager's own metrics.
type countingStore struct {
	store.Store
	written func(n int)
}

// UpsertRollups implements store.Store and counts the rollups written.
func (s countingStore) UpsertRollups(ctx context.Context, rollups []store.Rollup) error {
	err := s.Store.UpsertRollups(ctx, rollups)
	if err == nil && len(rollups) > 0 {
		s.written(len(rollups))
	}
	return err
}

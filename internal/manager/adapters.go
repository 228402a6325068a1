package manager

import (
	"context"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/export"
	"github.com/fcmon/fcmon/internal/manager/history"
	"github.com/fcmon/fcmon/internal/manager/store"
	"github.com/fcmon/fcmon/internal/manager/tsdb"
)

// Adapters between parts: what one part offers, in the shape another reads.

// remoteHistory reads a VM's history from the TSDB of --history-url (nil:
// none), naming its series as the service discovery labels them.
func (p *parts) remoteHistory(c *tsdb.Client) history.Remote {
	if c == nil {
		return nil
	}
	return func(ctx context.Context, vmID string, since, until, step int64) ([]wire.HistoryPoint, error) {
		vm, ok := p.reg.CachedVM(vmID)
		s := tsdb.Series{VMID: vmID}
		if ok && vm.HostID != "" {
			s = tsdb.Series{Host: vm.HostID, VMID: vm.HostVMID}
		}
		return c.Query(ctx, s, since, until, step)
	}
}

// latest returns the newest sample of every cached VM that has one, with
// its name, for the Prometheus export.
func (p *parts) latest() []export.Labeled {
	vms := p.reg.CachedVMs()
	out := make([]export.Labeled, 0, len(vms))
	for _, vm := range vms {
		if s, ok := p.coll.Latest(vm.ID); ok {
			out = append(out, export.Labeled{VMID: vm.ID, VMName: vm.Name, HostID: vm.HostID, Labels: vm.Merged, Sample: s})
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

// heldHosts implements collector.Options.Hosts: the host agents
// registered, and of them, when other managers share the database, only
// those this one holds a lease on.
func (p *parts) heldHosts(ctx context.Context) ([]collector.HostTarget, error) {
	all, err := p.reg.Hosts(ctx)
	if err != nil || !p.cluster.Shared() {
		return all, err
	}
	mine := make([]collector.HostTarget, 0, len(all))
	for _, h := range all {
		if p.cluster.Holds(h.ID) {
			mine = append(mine, h)
		}
	}
	return mine, nil
}

// dropForgotten has the collector and the history drop the VMs the
// registry forgot, until ctx ends.
func (p *parts) dropForgotten(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ids := <-p.reg.Forgotten():
			for _, id := range ids {
				p.coll.Forget(id)
				p.hist.Forget(id)
			}
		}
	}
}

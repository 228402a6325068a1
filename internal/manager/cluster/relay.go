package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Watchers is the fleet stream as the relay serves it (the hub).
type Watchers interface {
	FleetClients() int
	// Watched lists the VMs the fleet clients watch.
	Watched() []string
	PublishWatched(s wire.CombinedSample)
}

// Relay is what the relay reads of this manager: its own latest samples
// (the collector), its VMs (the registry).
type Relay struct {
	Watchers Watchers
	Latest   func(id string) (wire.CombinedSample, bool)
	VMs      func(ctx context.Context) ([]store.VM, error)
}

// RelayWatched brings, every interval until ctx ends, the latest samples
// of the VMs this manager's fleet clients watch (the rows on their screens)
// that another manager collects, and sends them to those clients: one
// GET /v1/cluster/latest per manager asked.
func (c *Cluster) RelayWatched(ctx context.Context, every time.Duration, r Relay) {
	last := map[string]int64{} // VM id → time of the sample last relayed
	tick.Every(ctx, every, func() {
		if r.Watchers.FleetClients() == 0 {
			clear(last)
			return
		}
		need := map[string]bool{}
		for _, id := range r.Watchers.Watched() {
			if _, here := r.Latest(id); !here {
				need[id] = true
			}
		}
		if len(need) == 0 {
			return
		}
		byURL := map[string][]string{}
		vms, err := r.VMs(ctx)
		if err != nil {
			return
		}
		for _, vm := range vms {
			if need[vm.ID] && vm.HostID != "" && vm.GoneMs == 0 {
				if url := c.holderURL(vm.HostID); url != "" {
					byURL[url] = append(byURL[url], vm.ID)
				}
			}
		}
		for id := range last {
			if !need[id] {
				delete(last, id)
			}
		}
		for url, ids := range byURL {
			body, ok := c.fetch(ctx, url, "/v1/cluster/latest?ids="+strings.Join(ids, ","))
			var samples []wire.CombinedSample
			if !ok || json.Unmarshal(body, &samples) != nil {
				continue
			}
			for _, s := range samples {
				if need[s.VMID] && s.TimestampMs > last[s.VMID] {
					last[s.VMID] = s.TimestampMs
					r.Watchers.PublishWatched(s)
				}
			}
		}
	})
}

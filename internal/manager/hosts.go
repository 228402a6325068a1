package manager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// hostView is a host agent with how collecting it goes.
func hostView(h store.Host, st collector.HostStatus, ok bool) wire.Host {
	v := wire.Host{ID: h.ID, URL: h.URL, Name: h.Name, CreatedMs: h.CreatedMs}
	if !ok {
		return v
	}
	if st.Name != "" {
		v.Name = st.Name
	}
	v.VMs, v.Encoding, v.LastSuccessMs, v.LatencyMs = st.VMs, st.Encoding, st.LastSuccessMs, st.LatencyMs
	v.LastError, v.LastErrorMs = st.LastError, st.LastErrorMs
	v.SkippedVMs, v.SkippedReason, v.UnregisteredVMs = st.SkippedVMs, st.SkippedReason, st.UnregisteredVMs
	v.Reachable = st.LastSuccessMs != 0 && st.LastSuccessMs >= st.LastErrorMs
	return v
}

// addHostAgents registers the host agents of --host-agents that the store
// does not hold yet.
func (m *Manager) addHostAgents(ctx context.Context, st store.Store) error {
	if len(m.set.hostAgents) == 0 {
		return nil
	}
	have, err := st.ListHosts(ctx)
	if err != nil {
		return fmt.Errorf("reading the host agents: %w", err)
	}
	known := map[string]bool{}
	for _, h := range have {
		known[h.URL] = true
	}
	for _, u := range m.set.hostAgents {
		if known[u] {
			continue
		}
		if _, err := st.CreateHost(ctx, store.Host{ID: store.NewUUID(), URL: u}); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("registering host agent %s: %w", u, err)
		}
		m.log.Info("host agent added", "url", u)
	}
	return nil
}

// parseHostAgents checks the URLs of --host-agents against the allow-list.
func parseHostAgents(raw string, allow netpolicy.List) ([]string, error) {
	var out []string
	for _, u := range netpolicy.SplitList(raw) {
		canon, err := netpolicy.ParseAgentURL("--host-agents", u)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = allow.CheckURLHost(ctx, canon, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("--host-agents %s: %w (see --host-agent-allow-cidrs)", canon, err)
		}
		out = append(out, canon)
	}
	return out, nil
}

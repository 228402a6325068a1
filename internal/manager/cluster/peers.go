package cluster

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Peer asks the member holding hostID for path (under /v1) and returns
// the body of a 200 answer, at most 8 MiB.
func (c *Cluster) Peer(ctx context.Context, hostID, path string) ([]byte, bool) {
	url := ""
	c.mu.RLock()
	for _, m := range c.members {
		if m.ID != c.self.ID && slices.Contains(m.Hosts, hostID) {
			url = m.URL
		}
	}
	c.mu.RUnlock()
	if url == "" {
		return nil, false
	}
	return c.fetch(ctx, url, path)
}

// holderURL is the URL of the other member holding hostID; "" when this
// manager holds it, or nobody does.
func (c *Cluster) holderURL(hostID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h := c.holder[hostID]
	if h == "" || h == c.self.ID {
		return ""
	}
	for _, m := range c.members {
		if m.ID == h {
			return m.URL
		}
	}
	return ""
}

// AskOthers asks every other live member for path, at once, and returns
// the bodies of the 200 answers and the names of the members that gave
// none (or have no --advertise-url to be asked at).
func (c *Cluster) AskOthers(ctx context.Context, path string) (bodies [][]byte, missing []string) {
	c.mu.RLock()
	var others []store.Member
	for _, m := range c.members {
		if m.ID != c.self.ID {
			others = append(others, m)
		}
	}
	c.mu.RUnlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range others {
		wg.Go(func() {
			var body []byte
			ok := false
			if m.URL != "" {
				body, ok = c.fetch(ctx, m.URL, path)
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				bodies = append(bodies, body)
			} else {
				missing = append(missing, m.Name)
			}
		})
	}
	wg.Wait()
	slices.Sort(missing)
	return bodies, missing
}

// fetch GETs path of the manager at url, as a peer.
func (c *Cluster) fetch(ctx context.Context, url, path string) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		return nil, false
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	sig := c.peerHeader()
	if sig == "" {
		return nil, false
	}
	req.Header.Set(wire.PeerHeader, sig)
	res, err := c.client.Do(req)
	if err != nil {
		return nil, false
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, false
	}
	return body, true
}

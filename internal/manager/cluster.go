package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/api"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// How managers sharing a database divide the host agents. Every round a
// manager renews its member row, reads the live members and the host
// agents, picks its share by rendezvous hashing (each host goes to the
// live member whose hash with it is highest, so a member joining or
// leaving moves only its own share), releases leases on hosts now another
// member's, renews its own and takes the free ones. A lease is held by at
// most one member (the database's conditional upsert), and a member
// collects a host only while its lease is valid by its own clock, with a
// margin: so no host is collected twice. A killed manager's hosts are
// taken over once its lease expires: within clusterTTL plus a round or
// two, under 10 s.
const (
	clusterRound = time.Second
	clusterTTL   = 5 * time.Second
	// clusterMargin is how long before its lease's expiry a member stops
	// collecting a host whose lease it could not renew.
	clusterMargin = time.Second
	// clusterForget is how long a silent member stays in the table.
	clusterForget = 10 * time.Minute
)

// cluster is this manager's membership.
type cluster struct {
	st   store.Store
	self store.Member
	log  *slog.Logger
	// changed is called when the set of hosts this manager holds grows,
	// so the registry reads the host agents' VMs again (another manager
	// may have registered some since).
	changed func()
	// solo: the database is this manager's alone (SQLite), so there is
	// nobody to share with and nothing is written: it holds every host.
	solo bool

	mu      sync.RWMutex
	held    map[string]time.Time // host id → valid until, by this clock
	members []store.Member
	// holder maps each held host id to the member holding it, and lowest
	// is the live member with the lowest id: who answers for a VM in
	// fleet-wide views (see owns).
	holder map[string]string
	lowest string
	secret []byte        // the peers' (peerauth.go); nil when solo or not read yet
	first  chan struct{} // closed after the first round, success or not
	once   sync.Once
}

func newCluster(st store.Store, name, url string, log *slog.Logger, changed func()) *cluster {
	solo := st.Backend() != "postgres"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return &cluster{st: st, log: log, changed: changed, solo: solo, held: map[string]time.Time{}, first: make(chan struct{}),
		self: store.Member{ID: hex.EncodeToString(b), Name: host + " " + name, URL: url, StartedMs: time.Now().UnixMilli()}}
}

// run does a round every clusterRound until ctx ends, then leaves the
// cluster so the others take its hosts at once.
func (c *cluster) run(ctx context.Context) {
	t := time.NewTicker(clusterRound)
	defer t.Stop()
	for {
		c.round(ctx)
		c.once.Do(func() { close(c.first) })
		select {
		case <-ctx.Done():
			if c.solo {
				return
			}
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := c.st.LeaveCluster(lctx, c.self.ID); err != nil {
				c.log.Warn("leaving the cluster failed; the other managers take over when the leases expire", "err", err)
			}
			return
		case <-t.C:
		}
	}
}

// round renews membership and leases once.
func (c *cluster) round(ctx context.Context) {
	if c.solo {
		c.soloRound(ctx)
		return
	}
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, clusterTTL-clusterMargin-clusterRound)
	defer cancel()
	c.loadSecret(ctx)
	err := c.st.Heartbeat(ctx, c.self, clusterForget.Milliseconds())
	var members []store.Member
	var hosts []store.Host
	if err == nil {
		members, err = c.st.Members(ctx, clusterTTL.Milliseconds())
	}
	if err == nil {
		hosts, err = c.st.ListHosts(ctx)
	}
	var held []string
	if err == nil {
		held, err = c.st.ClaimHosts(ctx, c.self.ID, share(c.self.ID, members, hosts), clusterTTL.Milliseconds())
	}
	if err != nil {
		if parent.Err() == nil {
			c.log.Warn("renewing the host agent leases failed; keeping those still valid", "err", err)
		}
		return
	}
	until := start.Add(clusterTTL - clusterMargin)
	c.mu.Lock()
	grew := false
	next := make(map[string]time.Time, len(held))
	for _, id := range held {
		if _, ok := c.held[id]; !ok {
			grew = true
		}
		next[id] = until
	}
	for id := range c.held {
		if _, ok := next[id]; !ok {
			c.log.Info("host agent handed over to another manager", "host_id", id)
		}
	}
	c.held, c.members = next, members
	c.holder, c.lowest = map[string]string{}, c.self.ID
	for _, m := range members {
		for _, h := range m.Hosts {
			c.holder[h] = m.ID
		}
		c.lowest = min(c.lowest, m.ID)
	}
	c.mu.Unlock()
	if grew && c.changed != nil {
		c.changed()
	}
}

// soloRound is a round of a manager alone with its database: the member
// list is itself, holding every host.
func (c *cluster) soloRound(ctx context.Context) {
	hosts, err := c.st.ListHosts(ctx)
	if err != nil {
		return
	}
	self := c.self
	self.HeartbeatMs = time.Now().UnixMilli()
	self.Hosts = make([]string, len(hosts))
	for i, h := range hosts {
		self.Hosts[i] = h.ID
	}
	c.mu.Lock()
	c.members = []store.Member{self}
	c.mu.Unlock()
}

// share is the hosts member id should collect: those whose highest
// rendezvous hash among the live members is its (all of them when it is
// alone, or not yet in the list).
func share(id string, members []store.Member, hosts []store.Host) []string {
	ids := []string{id}
	for _, m := range members {
		if m.ID != id {
			ids = append(ids, m.ID)
		}
	}
	var mine []string
	for _, h := range hosts {
		best, bestScore := "", uint64(0)
		for _, m := range ids {
			if s := score(m, h.ID); best == "" || s > bestScore || (s == bestScore && m < best) {
				best, bestScore = m, s
			}
		}
		if best == id {
			mine = append(mine, h.ID)
		}
	}
	return mine
}

func score(member, host string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(member))
	f.Write([]byte{0})
	f.Write([]byte(host))
	// FNV's low bits mix poorly for similar keys: finish with a multiply
	// and shift (splitmix64's finaliser).
	x := f.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// holds reports whether this manager may collect host id now.
func (c *cluster) holds(id string) bool {
	if c.solo {
		return true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	until, ok := c.held[id]
	return ok && time.Now().Before(until)
}

// owns reports whether this manager answers for vm in fleet-wide views
// (GET /v1/fleet, the pages of GET /v1/vms): the member holding its host
// agent's lease does; a VM whose host agent nobody holds, or that is
// polled directly (every manager polls those), is answered for by the
// live member with the lowest id. So each VM is counted once, but for a
// second or two while a host agent changes hands.
func (c *cluster) owns(vm *store.VM) bool {
	if c.solo {
		return true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if h, ok := c.holder[vm.HostID]; ok && vm.HostID != "" {
		return h == c.self.ID
	}
	return c.lowest == "" || c.lowest == c.self.ID
}

// view is GET /v1/cluster.
func (c *cluster) view() wire.Cluster {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := wire.Cluster{Self: c.self.ID, Members: make([]wire.ClusterMember, 0, len(c.members))}
	// Each round replaces c.members with fresh slices: they are never
	// changed after, so the answer may share them.
	for _, m := range c.members {
		out.Members = append(out.Members, wire.ClusterMember{ID: m.ID, Name: m.Name, URL: m.URL,
			StartedMs: m.StartedMs, HeartbeatMs: m.HeartbeatMs, Hosts: m.Hosts})
	}
	return out
}

// peers reads the latest samples of VMs other managers collect.
type peers struct {
	c      *cluster
	client *http.Client
	token  string
}

func newPeers(c *cluster, allow netpolicy.List, token string) *peers {
	d := &net.Dialer{Timeout: time.Second, Control: allow.Control}
	return &peers{c: c, token: token, client: &http.Client{Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
			MaxResponseHeaderBytes: 64 << 10}}}
}

// get asks the member holding hostID for path (under /v1) and returns
// the body of a 200 answer, at most 8 MiB.
func (p *peers) get(ctx context.Context, hostID, path string) ([]byte, bool) {
	url := ""
	p.c.mu.RLock()
	for _, m := range p.c.members {
		if m.ID != p.c.self.ID && slices.Contains(m.Hosts, hostID) {
			url = m.URL
		}
	}
	p.c.mu.RUnlock()
	if url == "" {
		return nil, false
	}
	return p.fetch(ctx, url, path)
}

// holderURL is the URL of the other member holding hostID; "" when this
// manager holds it, or nobody does.
func (p *peers) holderURL(hostID string) string {
	p.c.mu.RLock()
	defer p.c.mu.RUnlock()
	h := p.c.holder[hostID]
	if h == "" || h == p.c.self.ID {
		return ""
	}
	for _, m := range p.c.members {
		if m.ID == h {
			return m.URL
		}
	}
	return ""
}

// askOthers asks every other live member for path, at once, and returns
// the bodies of the 200 answers and the names of the members that gave
// none (or have no --advertise-url to be asked at).
func (p *peers) askOthers(ctx context.Context, path string) (bodies [][]byte, missing []string) {
	p.c.mu.RLock()
	var others []store.Member
	for _, m := range p.c.members {
		if m.ID != p.c.self.ID {
			others = append(others, m)
		}
	}
	p.c.mu.RUnlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range others {
		wg.Go(func() {
			var body []byte
			ok := false
			if m.URL != "" {
				body, ok = p.fetch(ctx, m.URL, path)
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
func (p *peers) fetch(ctx context.Context, url, path string) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		return nil, false
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	sig := p.c.peerHeader()
	if sig == "" {
		return nil, false
	}
	req.Header.Set(api.PeerHeader, sig)
	res, err := p.client.Do(req)
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

// relayWatched brings, every interval until ctx ends, the latest samples
// of the VMs this manager's fleet clients watch (the rows on their screens)
// that another manager collects, and sends them to those clients: one
// GET /v1/cluster/latest per manager asked.
func (p *parts) relayWatched(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := map[string]int64{} // VM id → time of the sample last relayed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.hub.FleetClients() == 0 {
			clear(last)
			continue
		}
		need := map[string]bool{}
		for _, id := range p.hub.Watched() {
			if _, here := p.coll.Latest(id); !here {
				need[id] = true
			}
		}
		if len(need) == 0 {
			continue
		}
		byURL := map[string][]string{}
		vms, err := p.reg.CurrentVMs(ctx)
		if err != nil {
			continue
		}
		for _, vm := range vms {
			if need[vm.ID] && vm.HostID != "" && vm.GoneMs == 0 {
				if url := p.peers.holderURL(vm.HostID); url != "" {
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
			body, ok := p.peers.fetch(ctx, url, "/v1/cluster/latest?ids="+strings.Join(ids, ","))
			var samples []wire.CombinedSample
			if !ok || json.Unmarshal(body, &samples) != nil {
				continue
			}
			for _, s := range samples {
				if need[s.VMID] && s.TimestampMs > last[s.VMID] {
					last[s.VMID] = s.TimestampMs
					p.hub.PublishWatched(s)
				}
			}
		}
	}
}

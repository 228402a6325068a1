// Package cluster is the membership of the managers sharing one
// PostgreSQL database: leases that give each host agent to exactly one live
// manager, the fleet-wide ownership of VMs, the signed calls managers make
// to each other, and the relay of the samples one manager's clients watch
// that another collects.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
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
// taken over once its lease expires: within TTL plus a round or
// two, under 10 s.
const (
	clusterRound = time.Second
	// TTL is how long a lease lasts unless renewed.
	TTL = 5 * time.Second
	// clusterMargin is how long before its lease's expiry a member stops
	// collecting a host whose lease it could not renew.
	clusterMargin = time.Second
	// clusterForget is how long a silent member stays in the table.
	clusterForget = 10 * time.Minute
)

// Store is what the cluster reads and writes of the database.
type Store interface {
	Heartbeat(ctx context.Context, m store.Member, forgetAfterMs int64) error
	Members(ctx context.Context, liveWithinMs int64) ([]store.Member, error)
	ListHosts(ctx context.Context) ([]store.Host, error)
	ClaimHosts(ctx context.Context, owner string, want []string, ttlMs int64) ([]string, error)
	LeaveCluster(ctx context.Context, id string) error
	PeerSecret(ctx context.Context) (string, error)
	Backend() string
}

// Options configure a Cluster.
type Options struct {
	Store Store
	// Name is for people (the listen address; the host name is added);
	// URL is where the other managers reach this one (its API).
	Name, URL string
	// OnGrow is called when the set of hosts this manager holds grows,
	// so the registry reads the host agents' VMs again (another manager
	// may have registered some since); nil: nothing is.
	OnGrow func()
	// Allow is where the other managers may be dialled (checked on the
	// address dialled); Token the API token they need.
	Allow  netpolicy.List
	Token  string
	Logger *slog.Logger
	// Clock is the time; nil: time.Now.
	Clock func() time.Time
}

// Cluster is this manager's membership.
type Cluster struct {
	st      Store
	self    store.Member
	log     *slog.Logger
	changed func()
	now     func() time.Time
	// solo: the database is this manager's alone (SQLite), so there is
	// nobody to share with and nothing is written: it holds every host.
	solo   bool
	client *http.Client // for the other managers
	token  string

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

// New returns the membership of a manager over the store; Run keeps it.
func New(o Options) *Cluster {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	d := &net.Dialer{Timeout: time.Second, Control: o.Allow.Control}
	return &Cluster{st: o.Store, log: o.Logger, changed: o.OnGrow, now: o.Clock, solo: o.Store.Backend() != "postgres",
		held: map[string]time.Time{}, first: make(chan struct{}), token: o.Token,
		self: store.Member{ID: hex.EncodeToString(b), Name: host + " " + o.Name, URL: o.URL, StartedMs: o.Clock().UnixMilli()},
		client: &http.Client{Timeout: 2 * time.Second,
			Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
				MaxResponseHeaderBytes: 64 << 10}}}
}

// Shared reports whether other managers may share the database
// (PostgreSQL); alone (SQLite), this one holds and answers for everything.
func (c *Cluster) Shared() bool { return !c.solo }

// First is closed after the first round, whether it succeeded or not: the
// host agents this manager collects are known then.
func (c *Cluster) First() <-chan struct{} { return c.first }

// Run does a round every clusterRound until ctx ends, then leaves the
// cluster so the others take its hosts at once.
func (c *Cluster) Run(ctx context.Context) {
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
func (c *Cluster) round(ctx context.Context) {
	if c.solo {
		c.soloRound(ctx)
		return
	}
	start := c.now()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, TTL-clusterMargin-clusterRound)
	defer cancel()
	c.loadSecret(ctx)
	err := c.st.Heartbeat(ctx, c.self, clusterForget.Milliseconds())
	var members []store.Member
	var hosts []store.Host
	if err == nil {
		members, err = c.st.Members(ctx, TTL.Milliseconds())
	}
	if err == nil {
		hosts, err = c.st.ListHosts(ctx)
	}
	var held []string
	if err == nil {
		held, err = c.st.ClaimHosts(ctx, c.self.ID, share(c.self.ID, members, hosts), TTL.Milliseconds())
	}
	if err != nil {
		if parent.Err() == nil {
			c.log.Warn("renewing the host agent leases failed; keeping those still valid", "err", err)
		}
		return
	}
	until := start.Add(TTL - clusterMargin)
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
func (c *Cluster) soloRound(ctx context.Context) {
	hosts, err := c.st.ListHosts(ctx)
	if err != nil {
		return
	}
	self := c.self
	self.HeartbeatMs = c.now().UnixMilli()
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

// Holds reports whether this manager may collect host id now.
func (c *Cluster) Holds(id string) bool {
	if c.solo {
		return true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	until, ok := c.held[id]
	return ok && c.now().Before(until)
}

// Owns reports whether this manager answers for vm in fleet-wide views
// (GET /v1/fleet, the pages of GET /v1/vms): the member holding its host
// agent's lease does; a VM whose host agent nobody holds, or that is
// polled directly (every manager polls those), is answered for by the
// live member with the lowest id. So each VM is counted once, but for a
// second or two while a host agent changes hands.
func (c *Cluster) Owns(vm *store.VM) bool {
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

// View is GET /v1/cluster.
func (c *Cluster) View() wire.Cluster {
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

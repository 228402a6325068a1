package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/manager/store"
)

// fakeStore keeps members and leases as the database does, on the tests'
// clock: a lease is held by at most one member until it expires.
type fakeStore struct {
	mu      sync.Mutex
	now     func() time.Time
	hosts   []store.Host
	members map[string]store.Member
	leases  map[string]lease
}

type lease struct {
	owner   string
	expires int64
}

func newFakeStore(now func() time.Time, hosts int) *fakeStore {
	f := &fakeStore{now: now, members: map[string]store.Member{}, leases: map[string]lease{}}
	for i := range hosts {
		f.hosts = append(f.hosts, store.Host{ID: fmt.Sprintf("host-%03d", i), URL: fmt.Sprintf("http://10.0.0.%d:9091", i)})
	}
	return f
}

func (f *fakeStore) ms() int64 { return f.now().UnixMilli() }

func (f *fakeStore) Heartbeat(_ context.Context, m store.Member, forgetAfterMs int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.HeartbeatMs = f.ms()
	f.members[m.ID] = m
	for id, o := range f.members {
		if o.HeartbeatMs < f.ms()-forgetAfterMs {
			delete(f.members, id)
		}
	}
	return nil
}

func (f *fakeStore) Members(_ context.Context, liveWithinMs int64) ([]store.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Member
	for _, m := range f.members {
		if m.HeartbeatMs >= f.ms()-liveWithinMs {
			m.Hosts = []string{}
			for h, l := range f.leases {
				if l.owner == m.ID && l.expires > f.ms() {
					m.Hosts = append(m.Hosts, h)
				}
			}
			slices.Sort(m.Hosts)
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b store.Member) int { return int(a.StartedMs - b.StartedMs) })
	return out, nil
}

func (f *fakeStore) ListHosts(context.Context) ([]store.Host, error) { return f.hosts, nil }

func (f *fakeStore) ClaimHosts(_ context.Context, owner string, want []string, ttlMs int64) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h, l := range f.leases {
		if l.owner == owner && !slices.Contains(want, h) {
			delete(f.leases, h)
		}
	}
	var held []string
	for _, h := range want {
		if l, ok := f.leases[h]; !ok || l.owner == owner || l.expires <= f.ms() {
			f.leases[h] = lease{owner: owner, expires: f.ms() + ttlMs}
			held = append(held, h)
		}
	}
	return held, nil
}

func (f *fakeStore) LeaveCluster(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.members, id)
	for h, l := range f.leases {
		if l.owner == id {
			delete(f.leases, h)
		}
	}
	return nil
}

func (f *fakeStore) PeerSecret(context.Context) (string, error) {
	return "0123456789abcdef0123456789abcdef", nil
}
func (f *fakeStore) Backend() string { return "postgres" }

// TestShareIsExclusiveAndStable: every host goes to exactly one member,
// and a member joining or leaving moves only its own share.
func TestShareIsExclusiveAndStable(t *testing.T) {
	hosts := newFakeStore(time.Now, 300).hosts
	members := func(ids ...string) []store.Member {
		var out []store.Member
		for _, id := range ids {
			out = append(out, store.Member{ID: id})
		}
		return out
	}
	owners := func(ms []store.Member) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for _, h := range share(m.ID, ms, hosts) {
				if o, dup := out[h]; dup {
					t.Fatalf("host %s goes to %s and %s", h, o, m.ID)
				}
				out[h] = m.ID
			}
		}
		if len(out) != len(hosts) {
			t.Fatalf("%d of %d hosts have an owner", len(out), len(hosts))
		}
		return out
	}
	three := owners(members("a", "b", "c"))
	four := owners(members("a", "b", "c", "d"))
	moved := 0
	for h, o := range four {
		if o != three[h] {
			moved++
			if o != "d" {
				t.Errorf("host %s moved from %s to %s when d joined", h, three[h], o)
			}
		}
	}
	if moved < 40 || moved > 110 {
		t.Errorf("%d of 300 hosts moved to the fourth member, want about 75", moved)
	}
	two := owners(members("a", "c"))
	for h, o := range two {
		if three[h] != "b" && o != three[h] {
			t.Errorf("host %s moved from %s to %s when b left", h, three[h], o)
		}
	}
	// A member not yet in the list (its first round) takes its share too.
	if got := share("new", members("a"), hosts); len(got) == 0 || len(got) == len(hosts) {
		t.Errorf("a newcomer's share: %d hosts", len(got))
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLeasesHandOver: two managers on one database hold each host at most
// one at a time; when one stops renewing, it stops collecting before its
// lease runs out, and the other takes its hosts once the lease expired —
// not before; one that leaves hands them over at once.
func TestLeasesHandOver(t *testing.T) {
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	st := newFakeStore(clock.now, 60)
	ctx := context.Background()
	a := New(Options{Store: st, Name: "a", Clock: clock.now})
	clock.advance(time.Millisecond) // b starts later
	b := New(Options{Store: st, Name: "b", Clock: clock.now})
	held := func(c *Cluster) int {
		n := 0
		for _, h := range st.hosts {
			if c.Holds(h.ID) {
				n++
			}
		}
		return n
	}
	exclusive := func(when string) {
		t.Helper()
		for _, h := range st.hosts {
			if a.Holds(h.ID) && b.Holds(h.ID) {
				t.Fatalf("%s: host %s is collected by both", when, h.ID)
			}
		}
	}
	for range 4 {
		a.round(ctx)
		exclusive("a's round")
		b.round(ctx)
		exclusive("b's round")
		clock.advance(clusterRound)
	}
	if ha, hb := held(a), held(b); ha+hb != 60 || ha == 0 || hb == 0 {
		t.Fatalf("held %d and %d of 60", ha, hb)
	}
	// a stops renewing (hung, or partitioned from the database).
	aHeld := held(a)
	for i := 0; i < 8; i++ {
		b.round(ctx)
		exclusive(fmt.Sprintf("%v after a's last round", time.Duration(i)*clusterRound))
		if time.Duration(i)*clusterRound < TTL-clusterRound && held(b) > 60-aHeld {
			t.Fatalf("b took a's hosts after %v, before the lease (%v) expired", time.Duration(i)*clusterRound, TTL)
		}
		if time.Duration(i+1)*clusterRound >= TTL-clusterMargin && held(a) != 0 {
			t.Fatalf("a still collects %d hosts %v after its last renewal", held(a), time.Duration(i+1)*clusterRound)
		}
		clock.advance(clusterRound)
	}
	if held(b) != 60 {
		t.Fatalf("b holds %d of 60 after a's leases expired", held(b))
	}
	// a is back: it takes its share again; b leaves, handing over at once.
	for range 3 {
		a.round(ctx)
		b.round(ctx)
		clock.advance(clusterRound)
	}
	if held(a) == 0 || held(a)+held(b) != 60 {
		t.Fatalf("after a returned: %d and %d", held(a), held(b))
	}
	st.LeaveCluster(ctx, b.self.ID)
	a.round(ctx)
	if held(a) != 60 {
		t.Errorf("a holds %d of 60 right after b left", held(a))
	}
}

// TestOwnsOneEach: in fleet-wide views every VM is answered for by exactly
// one member: its host's holder, else the member with the lowest id.
func TestOwnsOneEach(t *testing.T) {
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	st := newFakeStore(clock.now, 20)
	ctx := context.Background()
	cs := []*Cluster{New(Options{Store: st, Clock: clock.now}), New(Options{Store: st, Clock: clock.now}), New(Options{Store: st, Clock: clock.now})}
	for range 3 {
		for _, c := range cs {
			c.round(ctx)
		}
		clock.advance(clusterRound)
	}
	for _, c := range cs {
		c.round(ctx) // every member's view of the others' leases is current
	}
	vms := []store.VM{{ID: "direct"}, {ID: "unheld", HostID: "no-such-host"}}
	for _, h := range st.hosts {
		vms = append(vms, store.VM{ID: "on-" + h.ID, HostID: h.ID})
	}
	for _, vm := range vms {
		n := 0
		for _, c := range cs {
			if c.Owns(&vm) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("VM %s is answered for by %d members", vm.ID, n)
		}
	}
}

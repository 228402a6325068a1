package store

import (
	"context"
	"slices"
	"testing"
)

// testCluster: leases go to one member at a time; a member's lease is
// taken by another only once it expired or was released; members silent
// for too long leave the list, then the table.
func testCluster(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	clock := withClock(s, 1_700_000_000_000)
	for _, h := range []Host{{ID: hostA, URL: "http://10.0.0.1:9091"}, {ID: hostB, URL: "http://10.0.0.2:9091"}} {
		if _, err := s.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	m1, m2 := Member{ID: "m1", Name: "one", StartedMs: 1}, Member{ID: "m2", Name: "two", URL: "http://10.0.0.9:8080", StartedMs: 2}
	for _, m := range []Member{m1, m2} {
		if err := s.Heartbeat(ctx, m, 60_000); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(owner string, want ...string) []string {
		t.Helper()
		held, err := s.ClaimHosts(ctx, owner, want, 5000)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	if held := claim("m1", hostA, hostB, "no-such-host"); !slices.Equal(held, []string{hostA, hostB}) {
		t.Fatalf("m1 holds %v, want both hosts (and no unknown one)", held)
	}
	if held := claim("m2", hostA, hostB); len(held) != 0 {
		t.Fatalf("m2 took %v from m1's live leases", held)
	}
	// m1 gives hostB up; m2 gets it, not hostA.
	if held := claim("m1", hostA); !slices.Equal(held, []string{hostA}) {
		t.Fatalf("m1 holds %v after releasing hostB", held)
	}
	if held := claim("m2", hostA, hostB); !slices.Equal(held, []string{hostB}) {
		t.Fatalf("m2 holds %v, want hostB only", held)
	}
	ms, err := s.Members(ctx, 5000)
	if err != nil || len(ms) != 2 || ms[0].ID != "m1" || !slices.Equal(ms[0].Hosts, []string{hostA}) ||
		ms[1].URL != m2.URL || !slices.Equal(ms[1].Hosts, []string{hostB}) {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	// m1 goes silent: its lease expires, m2 takes hostA; m1 drops out of
	// the live members, and out of the table after forgetAfter.
	clock.ms += 5001
	if err := s.Heartbeat(ctx, m2, 60_000); err != nil {
		t.Fatal(err)
	}
	if held := claim("m2", hostA, hostB); !slices.Equal(held, []string{hostA, hostB}) {
		t.Fatalf("m2 holds %v after m1's lease expired", held)
	}
	if ms, _ := s.Members(ctx, 5000); len(ms) != 1 || ms[0].ID != "m2" || len(ms[0].Hosts) != 2 {
		t.Fatalf("live members %+v", ms)
	}
	clock.ms += 60_000
	if err := s.Heartbeat(ctx, m2, 60_000); err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.Members(ctx, 1<<40); len(ms) != 1 {
		t.Fatalf("m1 is still in the table: %+v", ms)
	}
	// Leaving hands the hosts over at once.
	if err := s.LeaveCluster(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	if held := claim("m3", hostA); !slices.Equal(held, []string{hostA}) {
		t.Fatalf("m3 holds %v after m2 left", held)
	}
	// A deleted host takes its lease with it.
	if err := s.DeleteHost(ctx, hostA, clock.ms); err != nil {
		t.Fatal(err)
	}
	if held := claim("m3", hostA); len(held) != 0 {
		t.Fatalf("m3 holds %v of a deleted host", held)
	}
}

// testPeerSecret: the first call makes the secret, every later one (from
// any manager on the database) reads the same.
func testPeerSecret(t *testing.T, url string) {
	ctx := context.Background()
	a, b := openStore(t, url), openStore(t, url)
	s1, err := a.PeerSecret(ctx)
	if err != nil || len(s1) < 32 {
		t.Fatalf("PeerSecret = %q, %v", s1, err)
	}
	if s2, err := b.PeerSecret(ctx); err != nil || s2 != s1 {
		t.Errorf("another manager's: %q, %v; want %q", s2, err, s1)
	}
}

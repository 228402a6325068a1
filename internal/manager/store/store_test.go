package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// behaviours is the suite every backend must pass. Each test gets an empty
// database of its own.
var behaviours = []struct {
	name string
	run  func(t *testing.T, url string)
}{
	{"create get list", testCreateGetList},
	{"guest ip null round trip", testGuestIPNull},
	{"update guest ip", testUpdateGuestIP},
	{"duplicate id", testDuplicate},
	{"unknown id", testUnknown},
	{"invalid values", testInvalid},
	{"delete cascades rollups", testDeleteCascades},
	{"upsert overwrites minute", testUpsertOverwrites},
	{"stats round trip", testStatsRoundTrip},
	{"range query", testRange},
	{"prune by age", testPrune},
	{"failed batch stores nothing", testFailedBatch},
	{"restart keeps data", testRestart},
	{"migrations rerun are no-ops", testMigrationsIdempotent},
	{"newer schema refused", testNewerSchema},
	{"concurrent opens migrate once", testConcurrentOpens},
	{"concurrent writers", testConcurrentWriters},
	{"host agents and their VMs", testHosts},
	{"many VMs gone at once", testManyGone},
	{"prune unsampled and oldest", testPruneKinds},
	{"peer secret made once", testPeerSecret},
	{"large rollup batch", testLargeBatch},
	{"many VMs at once", testCreateVMs},
	{"rollups of before per-group sources", testUpgradeRollupSources},
	{"events", testEvents},
	{"labels", testLabels},
	{"managers sharing host agents", testCluster},
}

func TestStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, bh := range behaviours {
				t.Run(bh.name, func(t *testing.T) {
					t.Parallel()
					bh.run(t, b.newURL(t))
				})
			}
		})
	}
}

// fakeClock is a settable clock for sqlStore.now.
type fakeClock struct{ ms int64 }

func (c *fakeClock) now() time.Time { return time.UnixMilli(c.ms) }

// withClock makes s read its time from a fakeClock starting at ms.
func withClock(s *sqlStore, ms int64) *fakeClock {
	c := &fakeClock{ms: ms}
	s.now = c.now
	return c
}

// mustCreate creates vm or fails the test.
func mustCreate(t *testing.T, s Store, vm VM) VM {
	t.Helper()
	got, err := s.CreateVM(context.Background(), vm)
	if err != nil {
		t.Fatalf("CreateVM(%q): %v", vm.ID, err)
	}
	return got
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// isNull reports whether a column of one row is NULL, read through SQL
// rather than the store's own mapping.
func isNull(t *testing.T, s *sqlStore, query string, args ...any) bool {
	t.Helper()
	var null bool
	if err := s.read.QueryRowContext(context.Background(), query, args...).Scan(&null); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return null
}

// count runs a COUNT(*) query.
func count(t *testing.T, s *sqlStore, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.read.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

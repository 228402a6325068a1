package hub

import (
	"reflect"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestBatchedBurstArrivesWhole publishes more samples at once than one
// batch holds: each must still reach the client as its own message, in
// order, and none may be lost between batches.
func TestBatchedBurstArrivesWhole(t *testing.T) {
	e := newEnv(t, Options{AllBuffer: 4 * maxBatch})
	all := e.dial("/all")
	e.waitSubscribers(1)
	n := 3*maxBatch + 7
	published := make([]wire.CombinedSample, n)
	for i := range published {
		published[i] = sample("vm", int64(i+1))
		e.h.Publish(published[i])
	}
	for i, want := range published {
		got, err := readSample(all, 5*time.Second)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d = %+v, want %+v", i, got, want)
		}
	}
	if d := e.h.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0", d)
	}
}

package vmtable

import (
	"slices"

	"os"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/sysfixture"
)

// writeTap writes a tap's statistics as the kernel shows them.
func writeTap(t *testing.T, sys, dev string, c map[string]uint64) {
	sysfixture.NetStats(t, sys, dev, c)
}

// TestTapFilesAreTheKernels: the reader reads the files the fixture
// writes, in the kernel's names.
func TestTapFilesAreTheKernels(t *testing.T) {
	if !slices.Equal(tapFiles[:], sysfixture.NetStatFiles) {
		t.Errorf("tap reader reads %v, the fixture writes %v", tapFiles, sysfixture.NetStatFiles)
	}
}

func TestTapGuestView(t *testing.T) {
	sys := t.TempDir()
	r := newTapReader(sys, "tap0")
	r.sample()
	if st, err := r.stats(); st != nil || err == nil {
		t.Fatalf("missing device: %+v, %v", st, err)
	}
	writeTap(t, sys, "tap0", map[string]uint64{"rx_bytes": 1000, "tx_bytes": 5000, "rx_packets": 10, "tx_packets": 50, "rx_dropped": 1, "tx_dropped": 2})
	r.sample()
	st, err := r.stats()
	if err != nil || st.RxBytesPerSec != nil {
		t.Fatalf("first sample: %+v, %v", st, err)
	}
	// The tap transmits what the guest receives.
	if st.RxBytesTotal != 5000 || st.TxBytesTotal != 1000 || st.RxPacketsTotal != 50 || st.TxPacketsTotal != 10 || st.RxDroppedTotal != 2 {
		t.Fatalf("guest view: %+v", st)
	}
	writeTap(t, sys, "tap0", map[string]uint64{"rx_bytes": 2000, "tx_bytes": 9000})
	r.sample()
	st, _ = r.stats()
	if st.RxBytesPerSec == nil || *st.RxBytesPerSec <= 0 || *st.TxBytesPerSec <= 0 || st.WindowMs < 0 {
		t.Fatalf("rates: %+v", st)
	}
	// Recreated device: counters restart, no negative rate.
	writeTap(t, sys, "tap0", map[string]uint64{"rx_bytes": 10, "tx_bytes": 10})
	r.sample()
	if st, _ = r.stats(); st.RxBytesPerSec != nil || st.RxBytesTotal != 10 {
		t.Fatalf("after reset: %+v", st)
	}
}

func TestTapRealLoopback(t *testing.T) {
	if _, err := os.Stat("/sys/class/net/lo/statistics/rx_bytes"); err != nil {
		t.Skip("no /sys/class/net/lo:", err)
	}
	r := newTapReader("/sys", "lo")
	r.sample()
	if st, err := r.stats(); err != nil || st.Device != "lo" {
		t.Fatalf("%+v, %v", st, err)
	}
}

func TestValidTapName(t *testing.T) {
	for name, ok := range map[string]bool{"tap0": true, "fc-tap_1.2": true, "": false, ".": false, "..": false,
		"a/b": false, "a b": false, "x:1": false, "sixteen-chars-xx": false} {
		if err := validTapName(name); (err == nil) != ok {
			t.Errorf("validTapName(%q) = %v", name, err)
		}
	}
}

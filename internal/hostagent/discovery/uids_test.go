package discovery

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUIDSet(t *testing.T) {
	s, err := ParseUIDSet("--discover-uids", DefaultDiscoverUIDs)
	if err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[int]bool{0: true, 1000: false, 65534: false, 100000: false, 800000000: true, 899999999: true, 900000000: false} {
		if s.has(uid) != want {
			t.Errorf("uid %d in %s: %v", uid, s, !want)
		}
	}
	if s.All([4]int{0, 0, 0, 65534}) || !s.All([4]int{800000001, 800000001, 800000001, 800000001}) {
		t.Error("all uids of a process must be in the set")
	}
	if s.String() != DefaultDiscoverUIDs {
		t.Errorf("String() = %q", s.String())
	}
	for _, bad := range []string{"x", "5-3", "-1", "0-4294967295", "1,,a-b"} {
		if _, err := ParseUIDSet("--discover-uids", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	sub := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(sub, []byte("alice:100000:65536\nbob:799990000:65536\nbad line\n"), 0o644)
	if got := SubIDOverlaps(s, sub); len(got) != 1 || got[0] != sub+": bob:799990000:65536" {
		t.Errorf("overlaps %q", got)
	}
}

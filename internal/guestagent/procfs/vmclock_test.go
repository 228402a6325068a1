package procfs

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/vmclockpage"
)

func TestVMClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vmclock0")
	for _, tc := range []struct {
		name string
		page []byte
		want VMClock
		err  string
	}{
		{"generation", vmclockpage.Page{Seq: 4, DisruptionMarker: 7, Generation: 3, HasGeneration: true}.Bytes(),
			VMClock{DisruptionMarker: 7, Generation: 3, HasGeneration: true}, ""},
		{"no generation flag", vmclockpage.Page{Seq: 2, DisruptionMarker: 9, Generation: 3}.Bytes(),
			VMClock{DisruptionMarker: 9}, ""},
		// A page that ends before the generation counter cannot have it,
		// whatever its flags say.
		{"short page", vmclockpage.Page{Generation: 3, HasGeneration: true}.Bytes()[:104], VMClock{}, ""},
		{"odd seq_count", vmclockpage.Page{Seq: 5}.Bytes(), VMClock{}, "mid-update"},
		{"no magic", make([]byte, 4096), VMClock{}, "not a VMClock page"},
		{"truncated", vmclockpage.Page{}.Bytes()[:20], VMClock{}, "shorter than its header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.page, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := NewFS("", "").VMClock(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and %q", err, path, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("VMClock = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	// The size field bounds the structure: a hypervisor whose structure
	// ends before the counter does not have it.
	p := vmclockpage.Page{Generation: 3, HasGeneration: true}.Bytes()
	binary.LittleEndian.PutUint32(p[4:], 104)
	if c, err := parseVMClock(p); err != nil || c.HasGeneration {
		t.Errorf("size 104: %+v, %v", c, err)
	}
	if _, err := NewFS("", "").VMClock(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing device: %v, want fs.ErrNotExist", err)
	}
}

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkReadAll1000: one round of the tracker over 1,000 VMs' cgroups
// (v2, laid out as the fixture's): /proc/PID/cgroup and a dozen files a
// VM. ns/op is one round; ns/VM the cost per VM per interval.
func BenchmarkReadAll1000(b *testing.B) {
	dir := b.TempDir()
	src := "testdata/v2/sys/fs/cgroup/firecracker/vm-7"
	root := filepath.Join(dir, "sys/fs/cgroup")
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu io memory\n"), 0o644)
	tr := NewTracker(FS{Root: root, Proc: filepath.Join(dir, "proc")}, time.Second)
	for i := range 1000 {
		vm := filepath.Join(root, "firecracker", fmt.Sprint("vm-", i))
		if err := os.CopyFS(vm, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
		pdir := filepath.Join(dir, "proc", fmt.Sprint(1000+i))
		os.MkdirAll(pdir, 0o755)
		os.WriteFile(filepath.Join(pdir, "cgroup"), []byte(fmt.Sprintf("0::/firecracker/vm-%d\n", i)), 0o644)
		tr.Acquire(1000 + i)
	}
	b.ResetTimer()
	for range b.N {
		tr.ReadAll()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/VM")
}

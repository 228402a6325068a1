package procstat

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestWatchExits: the kernel tells how processes that are not the
// watcher's children end — a normal exit with its code, a kill with its
// signal — and only once per process, not per thread.
func TestWatchExits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the process events connector needs root (CAP_NET_ADMIN); make test runs as root")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exits, err := WatchExits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code := exec.Command("sh", "-c", "exit 3")
	if err := code.Run(); err == nil {
		t.Fatal("sh -c 'exit 3' succeeded")
	}
	killed := exec.Command("sleep", "30")
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	killed.Process.Kill()
	killed.Wait()
	want := map[int]string{code.Process.Pid: "exited with code 3", killed.Process.Pid: "killed by SIGKILL"}
	seen := map[int]int{}
	deadline := time.After(5 * time.Second)
	for len(seen) < len(want) {
		select {
		case e := <-exits:
			if r, ok := want[e.PID]; ok {
				seen[e.PID]++
				if e.Reason() != r {
					t.Errorf("pid %d: %q, want %q", e.PID, e.Reason(), r)
				}
			}
		case <-deadline:
			t.Fatalf("after 5 s saw %v of %v", seen, want)
		}
	}
	cancel()
	for e := range exits { // drains, then closes: the reader ended
		if n := seen[e.PID]; n > 0 {
			t.Errorf("pid %d reported twice", e.PID)
		}
	}
}

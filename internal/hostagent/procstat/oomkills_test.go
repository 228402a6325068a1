package procstat

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/memcg"
)

func TestParseOOMKill(t *testing.T) {
	for _, tc := range []struct {
		rec  string
		want OOMKill
		ok   bool
	}{
		// Linux 6.x, a memory cgroup's limit: two records.
		{"6,2291,20091564926,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/vms/a,task_memcg=/vms/a,task=firecracker,pid=19766,uid=0\n",
			OOMKill{PID: 19766, Comm: "firecracker", Constraint: "CONSTRAINT_MEMCG"}, true},
		{"3,2292,20091564950,-;Memory cgroup out of memory: Killed process 19766 (firecracker) total-vm:32780kB, anon-rss:28544kB, file-rss:2928kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0\n",
			OOMKill{PID: 19766, Comm: "firecracker", Constraint: "CONSTRAINT_MEMCG"}, true},
		// The host out of memory.
		{"6,88,1000,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=fc_vcpu 0,pid=4242,uid=123\n SUBSYSTEM=x\n",
			OOMKill{PID: 4242, Comm: "fc_vcpu 0", Constraint: "CONSTRAINT_NONE"}, true},
		{"3,89,1001,-;Out of memory: Killed process 4242 (firecracker) total-vm:2000kB\n", OOMKill{PID: 4242, Comm: "firecracker"}, true},
		// Kernels before 4.19: the kill on a line of its own.
		{"3,7,5,-;Killed process 77 (firecracker) total-vm:1kB, anon-rss:0kB, file-rss:0kB, shmem-rss:0kB\n", OOMKill{PID: 77, Comm: "firecracker"}, true},
		// Not the OOM killer's.
		{"6,1,1,-;oom_reaper: reaped process 19766 (firecracker), now anon-rss:0kB\n", OOMKill{}, false},
		{"6,1,1,-;myapp: Killed process 5 (x)\n", OOMKill{}, false},
		{"6,1,1,-;Out of memory: Killed process abc (x)\n", OOMKill{}, false},
		{"6,1,1,-;oom-kill:constraint=CONSTRAINT_NONE,task=x,pid=-3\n", OOMKill{}, false},
		{"no semicolon Killed process 5 (x)\n", OOMKill{}, false},
	} {
		got, ok := ParseOOMKill([]byte(tc.rec))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q:\n got %+v %v\nwant %+v %v", tc.rec, got, ok, tc.want, tc.ok)
		}
	}
	if r := (OOMKill{Constraint: "CONSTRAINT_MEMCG"}).Reason(); !strings.Contains(r, "OOM killer") || !strings.Contains(r, "cgroup") {
		t.Errorf("reason %q", r)
	}
}

func FuzzParseOOMKill(f *testing.F) {
	f.Add([]byte("3,2292,20091564950,-;Memory cgroup out of memory: Killed process 19766 (firecracker) total-vm:32780kB\n"))
	f.Add([]byte("6,2291,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task=firecracker,pid=19766,uid=0\n"))
	f.Add([]byte("3,7,5,-;Killed process 77 (\n"))
	f.Fuzz(func(t *testing.T, rec []byte) {
		k, ok := ParseOOMKill(rec)
		if ok && (k.PID <= 0 || !strings.Contains(string(rec), "process "+strconv.Itoa(k.PID)) && !strings.Contains(string(rec), "pid="+strconv.Itoa(k.PID))) {
			t.Fatalf("%+v from %q", k, rec)
		}
		if !ok && k != (OOMKill{}) {
			t.Fatalf("not a kill, yet %+v", k)
		}
	})
}

// TestWatchOOMKills: a process over its memory cgroup's limit is killed
// by the host kernel's OOM killer, and the kernel's log says so.
func TestWatchOOMKills(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading the kernel log and making a memory cgroup need root; make test runs as root")
	}
	g := memcg.New(t, 16<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kills, err := WatchOOMKills(ctx, KernelLog)
	if err != nil {
		t.Fatal(err)
	}
	// sh joins the cgroup, then a pipeline holds 64 MiB in a variable.
	hog := exec.Command("sh", "-c", `echo $$ > "$1" && x=$(head -c 67108864 /dev/zero | tr '\0' a) && echo survived`, "sh", g.Procs())
	out, err := hog.CombinedOutput()
	if err == nil || strings.Contains(string(out), "survived") {
		t.Fatalf("the hog was not killed: %v %s", err, out)
	}
	deadline := time.After(10 * time.Second)
	var got []OOMKill
	for {
		select {
		case k := <-kills:
			got = append(got, k)
			// The OOM killer picks the biggest of the group: the shell
			// holding the text, or one of its pipeline's.
			if k.Constraint == "CONSTRAINT_MEMCG" && (k.PID == hog.Process.Pid || k.Comm == "sh" || k.Comm == "head" || k.Comm == "tr") {
				t.Logf("%+v: %s", k, k.Reason())
				cancel()
				for range kills { // the reader ends
				}
				return
			}
		case <-deadline:
			t.Fatalf("no OOM kill of pid %d in the kernel log within 10 s (saw %+v)", hog.Process.Pid, got)
		}
	}
}

package vmtable

import (
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/hostagent/procstat"
)

// The reason of a departure: the OOM killer's word when the process died
// of SIGKILL or when no exit was heard, the exit status otherwise.
func TestExitReasons(t *testing.T) {
	now := time.Now()
	var l exitLog
	l.addOOM(procstat.OOMKill{PID: 10, Comm: "firecracker", Constraint: "CONSTRAINT_NONE", At: now})
	l.addOOM(procstat.OOMKill{PID: 10, Comm: "firecracker", At: now}) // the second record of the same kill
	l.add(procstat.Exit{PID: 10, Signal: int(syscall.SIGKILL), At: now})
	l.addOOM(procstat.OOMKill{PID: 11, At: now}) // no exit heard
	l.addOOM(procstat.OOMKill{PID: 12, At: now.Add(-10 * time.Minute)})
	l.add(procstat.Exit{PID: 12, Code: 1, At: now}) // an old kill of a reused pid
	l.add(procstat.Exit{PID: 13, Signal: int(syscall.SIGTERM), At: now})
	l.add(procstat.Exit{PID: 14, Code: 150, At: now})
	for i, id := range []string{"a", "b", "c", "d"} {
		l.depart(id, 10+i, now, "", nil)
	}
	// What the VMM recorded as it died follows the kernel's word, or
	// stands alone without it.
	l.depart("e", 14, now, "Firecracker caught SIGSEGV and shut the VM down (signals.sigsegv)", nil)
	l.depart("f", 15, now, "Firecracker panicked (vmm.panic_count)", nil)
	want := map[string]string{
		"a": "killed by the host kernel's OOM killer (SIGKILL): the host ran out of memory",
		"b": "killed by the host kernel's OOM killer (SIGKILL)",
		"c": "exited with code 1",
		"d": "killed by SIGTERM",
		"e": "exited with code 150: Firecracker caught SIGSEGV and shut the VM down (signals.sigsegv)",
		"f": "Firecracker panicked (vmm.panic_count)",
	}
	for _, e := range l.list(now) {
		if e.Reason != want[e.ID] {
			t.Errorf("%s: %q, want %q", e.ID, e.Reason, want[e.ID])
		}
		delete(want, e.ID)
	}
	if len(want) != 0 {
		t.Errorf("not listed: %v", want)
	}
}

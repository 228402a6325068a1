package fcstandin

import "syscall"

// fatalSignals are the signals Firecracker's handlers end it on
// (src/vmm/src/signal_handler.rs:78-129): the field each sets to 1 and the
// exit code it then exits with (FcExitCode, src/vmm/src/lib.rs:185-199).
var fatalSignals = map[syscall.Signal]struct {
	group, field string
	code         int
}{
	syscall.SIGXFSZ: {"signals", "sigxfsz", 151},
	syscall.SIGXCPU: {"signals", "sigxcpu", 154},
	syscall.SIGBUS:  {"signals", "sigbus", 149},
	syscall.SIGSEGV: {"signals", "sigsegv", 150},
	syscall.SIGSYS:  {"seccomp", "num_faults", 148},
	syscall.SIGHUP:  {"signals", "sighup", 156},
	syscall.SIGILL:  {"signals", "sigill", 157},
}

// FatalSignals lists the signals Fatal handles, for a program to catch.
func FatalSignals() []syscall.Signal {
	out := make([]syscall.Signal, 0, len(fatalSignals))
	for s := range fatalSignals {
		out = append(out, s)
	}
	return out
}

// Fatal does what Firecracker's handler of sig does before it exits:
// records the signal in its field, writes one more metrics line
// (exit_with_code, signal_handler.rs:22), and returns the code to exit
// with; ok is false for a signal it has no such handler for.
func (v *VM) Fatal(sig syscall.Signal) (code int, ok bool) {
	f, ok := fatalSignals[sig]
	if !ok {
		return 0, false
	}
	v.record(f.group, f.field)
	v.writeLine()
	return f.code, true
}

// Panic does what Firecracker's panic hook does (src/firecracker/src/main.rs:147):
// vmm.panic_count set to 1 and a last metrics line; the process then
// aborts.
func (v *VM) Panic() {
	v.record("vmm", "panic_count")
	v.writeLine()
}

// record sets a StoreMetric to 1 on every line from now on.
func (v *VM) record(group, field string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stored == nil {
		v.stored = map[string]map[string]uint64{}
	}
	if v.stored[group] == nil {
		v.stored[group] = map[string]uint64{}
	}
	v.stored[group][field] = 1
}

package procstat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// KernelLog is the kernel's log as a stream of records.
const KernelLog = "/dev/kmsg"

// OOMKill is a process the kernel's OOM killer killed, as the kernel's log
// tells it. The process events connector only says "killed by SIGKILL";
// this says who sent it.
type OOMKill struct {
	PID  int
	Comm string // the process's name; empty when the record did not say
	// Constraint is what ran out, in the kernel's words: CONSTRAINT_NONE
	// (the host's memory), CONSTRAINT_MEMCG (a memory cgroup's limit),
	// CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY; empty when not said.
	Constraint string
	At         time.Time
}

// Reason says it for a person, as the vmm_exit event's reason.
func (k OOMKill) Reason() string {
	r := "killed by the host kernel's OOM killer (SIGKILL)"
	switch k.Constraint {
	case "CONSTRAINT_NONE":
		return r + ": the host ran out of memory"
	case "CONSTRAINT_MEMCG":
		return r + ": its memory cgroup's limit was reached"
	case "CONSTRAINT_CPUSET", "CONSTRAINT_MEMORY_POLICY":
		return r + ": its NUMA nodes ran out of memory (" + k.Constraint + ")"
	}
	return r
}

// WatchOOMKills follows the kernel log at path (KernelLog) from its end and reports the OOM killer's kills until
// ctx ends. Reading /dev/kmsg needs CAP_SYSLOG where dmesg_restrict is set
// (root has it). PIDs are the initial PID namespace's: run the host agent
// in the host's. The channel is closed when watching ends.
func WatchOOMKills(ctx context.Context, path string) (<-chan OOMKill, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel log: %w", err)
	}
	// Only what happens from now on: the kills before the host agent
	// started belong to processes it never saw.
	_, _ = f.Seek(0, io.SeekEnd)
	out := make(chan OOMKill, 64)
	go func() {
		<-ctx.Done()
		f.Close() // wakes the reader
	}()
	go func() {
		defer close(out)
		defer f.Close()
		buf := make([]byte, 16<<10) // a read returns one whole record; the kernel's are under 8 KiB
		for {
			n, err := f.Read(buf)
			if errors.Is(err, syscall.EPIPE) {
				continue // records were overwritten before we read them: go on from the oldest left
			}
			if err != nil {
				return // closed (ctx ended), or the log is gone
			}
			if k, ok := ParseOOMKill(buf[:n]); ok {
				k.At = time.Now()
				select {
				case out <- k:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// ParseOOMKill reads one /dev/kmsg record, "PRIORITY,SEQUENCE,TIMESTAMP,
// FLAGS;MESSAGE\n" and continuation lines, and tells whether it is one of
// the OOM killer's: "Out of memory: Killed process PID (COMM) ...",
// "Memory cgroup out of memory: Killed process PID (COMM) ...", a bare
// "Killed process PID (COMM) ..." (kernels before 4.19 print it on a line
// of its own) or "oom-kill:constraint=...,task=COMM,pid=PID,uid=..."
// (4.19 and later print it just before).
func ParseOOMKill(rec []byte) (OOMKill, bool) {
	semi := bytes.IndexByte(rec, ';')
	if semi < 0 {
		return OOMKill{}, false
	}
	msg := rec[semi+1:]
	if nl := bytes.IndexByte(msg, '\n'); nl >= 0 {
		msg = msg[:nl]
	}
	if rest, ok := bytes.CutPrefix(msg, []byte("oom-kill:")); ok {
		var k OOMKill
		for _, kv := range bytes.Split(rest, []byte(",")) {
			key, val, _ := bytes.Cut(kv, []byte("="))
			switch string(key) {
			case "constraint":
				k.Constraint = string(val)
			case "task":
				k.Comm = string(val)
			case "pid":
				pid, ok := parsePID(val)
				if !ok {
					return OOMKill{}, false
				}
				k.PID = pid
			}
		}
		if k.PID == 0 {
			return OOMKill{}, false
		}
		return k, true
	}
	i := bytes.Index(msg, []byte("Killed process "))
	if i < 0 {
		return OOMKill{}, false
	}
	var k OOMKill
	switch prefix := string(msg[:i]); prefix {
	case "Memory cgroup out of memory: ":
		k.Constraint = "CONSTRAINT_MEMCG"
	case "Out of memory: ", "":
	default:
		return OOMKill{}, false // someone else's message that quotes the phrase
	}
	rest := msg[i+len("Killed process "):]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		sp = len(rest)
	}
	pid, ok := parsePID(rest[:sp])
	if !ok {
		return OOMKill{}, false
	}
	k.PID = pid
	if rest = rest[sp:]; len(rest) > 2 && rest[0] == ' ' && rest[1] == '(' {
		if end := bytes.IndexByte(rest, ')'); end > 2 {
			k.Comm = string(rest[2:end])
		}
	}
	return k, true
}

// parsePID reads a PID as the kernel prints it: decimal digits, no sign,
// no leading zero.
func parsePID(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 || b[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

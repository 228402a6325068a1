// Package discover finds the Firecracker processes on a host from /proc:
// their pid, user, instance id and the paths on their command line, and
// the Unix sockets they listen on. Paths are as the process names them
// (inside its jail, relative to its working directory): where they lead on
// the host is for package vmpath to resolve, and asking each process's API
// what it is is the caller's job.
package discover

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Comm is the command name of a Firecracker process.
const Comm = "firecracker"

// DefaultAPISock is where Firecracker puts its API socket without
// --api-sock, and where the jailer has it inside the jail.
const DefaultAPISock = "/run/firecracker.socket"

// Process is a Firecracker process as /proc shows it.
type Process struct {
	PID int
	// StartTicks is when it started, in clock ticks after boot: with PID it
	// tells a process from a later one that reused the pid.
	StartTicks uint64
	// UIDs are its real, effective, saved and file-system user ids.
	UIDs [4]int
	// ID is the instance id of --id, "" without one.
	ID string
	// APISock is the API socket of --api-sock (or Firecracker's default);
	// it may not exist (a process started otherwise, or not yet listening).
	APISock string
	// MetricsPath, ConfigFile and LogPath are --metrics-path,
	// --config-file and --log-path, "" without.
	MetricsPath, ConfigFile, LogPath string
	// Listening are the Unix sockets the process listens on, as it bound
	// them: its API socket and its vsock socket, when it holds them.
	Listening []string
}

// Scanner finds Firecracker processes under a procfs mount.
type Scanner struct {
	proc string
}

// NewScanner returns a Scanner of the procfs mounted at procRoot.
func NewScanner(procRoot string) *Scanner { return &Scanner{proc: procRoot} }

// Scan lists the live Firecracker processes. A process that exits while it
// is read is left out; only reading /proc itself can fail.
func (s *Scanner) Scan() ([]Process, error) {
	entries, err := os.ReadDir(s.proc)
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if p, ok := s.read(pid); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// read returns pid as a Process when it is a live Firecracker.
func (s *Scanner) read(pid int) (Process, bool) {
	dir := filepath.Join(s.proc, strconv.Itoa(pid))
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != Comm {
		return Process{}, false
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, false
	}
	state, start, ok := parseStat(stat)
	if !ok || state == 'Z' || state == 'X' {
		return Process{}, false
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Process{}, false
	}
	p := Process{PID: pid, StartTicks: start}
	if p.UIDs, ok = parseUIDs(status); !ok {
		return Process{}, false
	}
	args := readCmdline(filepath.Join(dir, "cmdline"))
	p.APISock = flag(args, "api-sock")
	if p.APISock == "" {
		p.APISock = DefaultAPISock
	}
	p.ID = flag(args, "id")
	p.MetricsPath = flag(args, "metrics-path")
	p.ConfigFile = flag(args, "config-file")
	p.LogPath = flag(args, "log-path")
	p.Listening = s.listening(pid)
	return p, true
}

// StartTicks returns the start time of pid (see Process.StartTicks); false
// when it no longer lives.
func (s *Scanner) StartTicks(pid int) (uint64, bool) {
	stat, err := os.ReadFile(filepath.Join(s.proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	state, start, ok := parseStat(stat)
	return start, ok && state != 'Z' && state != 'X'
}

// UIDs returns the real, effective, saved and file-system uids of pid.
func (s *Scanner) UIDs(pid int) ([4]int, error) {
	status, err := os.ReadFile(filepath.Join(s.proc, strconv.Itoa(pid), "status"))
	if err != nil {
		return [4]int{}, err
	}
	uids, ok := parseUIDs(status)
	if !ok {
		return uids, errors.New("no Uid line in " + filepath.Join(s.proc, strconv.Itoa(pid), "status"))
	}
	return uids, nil
}

// parseUIDs reads the "Uid:" line of /proc/<pid>/status: real, effective,
// saved and file-system uids.
func parseUIDs(status []byte) ([4]int, bool) {
	var out [4]int
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "Uid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 4 {
			return out, false
		}
		for i, v := range f {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return out, false
			}
			out[i] = int(n)
		}
		return out, true
	}
	return out, false
}

// parseStat returns the state and start time of a /proc/<pid>/stat line.
// The command name, in parentheses, may hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseStat(b []byte) (state byte, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state (field 3) ... starttime (field 22).
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err == nil
}

// readCmdline returns the NUL-separated arguments; nil on error.
func readCmdline(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// flag returns the value of --name (or -name) among args: "--name value"
// or "--name=value"; "" when absent.
func flag(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if len(args[i]) == len(a) { // not a flag
			continue
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// listening returns the paths of the Unix sockets pid listens on: the
// sockets among its descriptors whose entry in its network namespace's
// /proc/net/unix is a listening stream socket with a path.
func (s *Scanner) listening(pid int) []string {
	dir := filepath.Join(s.proc, strconv.Itoa(pid))
	inodes := socketInodes(filepath.Join(dir, "fd"))
	if len(inodes) == 0 {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, "net", "unix"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	for _, e := range parseUnix(f) {
		if inodes[e.inode] && e.listening && e.path != "" && !strings.HasPrefix(e.path, "@") {
			out = append(out, e.path)
		}
	}
	return out
}

// socketInodes returns the inodes of the sockets among the descriptors in
// fdDir ("socket:[12345]" links).
func socketInodes(fdDir string) map[uint64]bool {
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil
	}
	out := map[uint64]bool{}
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		if rest, ok := strings.CutPrefix(link, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out
}

// unixEntry is one line of /proc/net/unix.
type unixEntry struct {
	inode     uint64
	listening bool
	path      string
}

// soAcceptCon is the __SO_ACCEPTCON flag of a listening socket.
const soAcceptCon = 0x10000

// parseUnix parses /proc/net/unix: "Num RefCount Protocol Flags Type St
// Inode Path", numbers in hex but the inode. Malformed lines are skipped.
func parseUnix(r interface{ Read([]byte) (int, error) }) []unixEntry {
	var out []unixEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		typ, err2 := strconv.ParseUint(f[4], 16, 16)
		inode, err3 := strconv.ParseUint(f[6], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		e := unixEntry{inode: inode, listening: flags&soAcceptCon != 0 && typ == 1}
		if len(f) >= 8 {
			e.path = strings.Join(f[7:], " ")
		}
		out = append(out, e)
	}
	return out
}

// ClockTicks is the unit of Process.StartTicks: USER_HZ, 100 on every
// Linux architecture's /proc.
const ClockTicks = 100

// StartTime is the wall-clock time a process started StartTicks after
// boot, from the boot time that CLOCK_BOOTTIME gives (to the microsecond,
// where /proc/stat's btime is whole seconds). It is no later than the
// process's start: the ticks are rounded down.
func StartTime(ticks uint64) time.Time {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}
	}
	boot := time.Now().Add(-time.Duration(ts.Nano()))
	return boot.Add(time.Duration(ticks) * (time.Second / ClockTicks))
}

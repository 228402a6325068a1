package discover

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		line  string
		state byte
		start uint64
		ok    bool
	}{
		{"4242 (firecracker) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 98765 1000 100", 'S', 98765, true},
		{"7 (a) b) (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", 'Z', 5, true},
		{"7 (x) S 1 2 3", 0, 0, false},
		{"no parenthesis", 0, 0, false},
		{"7 (x) SS 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", 0, 0, false},
		{"7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0 0", 'S', 0, false},
	}
	for _, tt := range tests {
		state, start, ok := parseStat([]byte(tt.line))
		if ok != tt.ok || (ok && (state != tt.state || start != tt.start)) {
			t.Errorf("parseStat(%q) = %q, %d, %v; want %q, %d, %v", tt.line, state, start, ok, tt.state, tt.start, tt.ok)
		}
	}
}

func TestFlag(t *testing.T) {
	args := []string{"/usr/bin/firecracker", "--api-sock", "/run/a.sock", "-id=vm-1", "--metrics-path=", "config-file", "x", "--boot-timer"}
	for name, want := range map[string]string{"api-sock": "/run/a.sock", "id": "vm-1", "metrics-path": "", "config-file": "", "boot-timer": "", "absent": ""} {
		if got := flag(args, name); got != want {
			t.Errorf("flag(%q) = %q, want %q", name, got, want)
		}
	}
	if got := flag([]string{"--id"}, "id"); got != "" {
		t.Errorf("a flag without its value: %q", got)
	}
}

func TestParseUnix(t *testing.T) {
	f, err := os.Open("testdata/net-unix.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := parseUnix(f)
	want := []unixEntry{
		{20771, true, "/run/firecracker/vm-1/api.sock"},
		{20772, true, "/srv/jail/firecracker/vm-2/root/v.sock"},
		{20773, false, "/run/firecracker/vm-1/api.sock"}, // an accepted connection on it: no __SO_ACCEPTCON
		{20774, false, "/run/dgram.sock"},
		{20775, true, "@abstract"},
		{20776, true, ""},
		{20777, true, "/path/with two spaces"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseUnix:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzParseUnix(f *testing.F) {
	b, err := os.ReadFile("testdata/net-unix.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range parseUnix(strings.NewReader(string(data))) {
			if e.path != strings.TrimSpace(e.path) {
				t.Fatalf("path %q keeps spaces at its ends", e.path)
			}
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (firecracker) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 98765 1000 100"))
	f.Fuzz(func(t *testing.T, data []byte) {
		state, _, ok := parseStat(data)
		if ok && state == 0 {
			t.Fatal("ok without a state")
		}
	})
}

// fakeProc builds a procfs tree with one Firecracker process: comm, stat,
// cmdline, root (a symlink: "/" for the host's root, a directory for a
// jail), fd links to sockets and net/unix.
func fakeProc(t *testing.T, pid int, comm string, args []string, jail string, sockets map[uint64]string) string {
	t.Helper()
	proc := t.TempDir()
	dir := filepath.Join(proc, strconv.Itoa(pid))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "net"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "stat"), []byte(strconv.Itoa(pid)+" ("+comm+") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\t"+comm+"\nUid:\t4321\t4321\t4321\t4322\nGid:\t0\t0\t0\t0\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644))
	root := "/"
	if jail != "" {
		root = jail
	}
	must(os.Symlink(root, filepath.Join(dir, "root")))
	unix := "Num       RefCount Protocol Flags    Type St Inode Path\n"
	n := 3
	for inode, path := range sockets {
		must(os.Symlink("socket:["+strconv.FormatUint(inode, 10)+"]", filepath.Join(dir, "fd", strconv.Itoa(n))))
		unix += "0000000000000000: 00000002 00000000 00010000 0001 01 " + strconv.FormatUint(inode, 10) + " " + path + "\n"
		n++
	}
	must(os.Symlink("/dev/null", filepath.Join(dir, "fd", "0")))
	unix += "0000000000000000: 00000002 00000000 00010000 0001 01 999 /not/ours.sock\n"
	must(os.WriteFile(filepath.Join(dir, "net", "unix"), []byte(unix), 0o644))
	must(os.WriteFile(filepath.Join(proc, "self"), nil, 0o644)) // not a pid
	return proc
}

func TestScanPlain(t *testing.T) {
	proc := fakeProc(t, 4242, "firecracker",
		[]string{"firecracker", "--api-sock", "/run/fc/a.sock", "--id", "vm-1", "--metrics-path", "m.fifo"},
		"", map[uint64]string{11: "/run/fc/a.sock", 12: "/run/fc/v.sock"})
	ps, err := NewScanner(proc).Scan()
	if err != nil || len(ps) != 1 {
		t.Fatalf("Scan = %+v, %v", ps, err)
	}
	p := ps[0]
	if p.PID != 4242 || p.StartTicks != 777 || p.ID != "vm-1" || p.APISock != "/run/fc/a.sock" || p.UIDs != [4]int{4321, 4321, 4321, 4322} {
		t.Errorf("process %+v", p)
	}
	if p.MetricsPath != "m.fifo" {
		t.Errorf("a relative metrics path became %q, want it as the process named it", p.MetricsPath)
	}
	if start, ok := NewScanner(proc).StartTicks(4242); !ok || start != 777 {
		t.Errorf("StartTicks = %d, %v", start, ok)
	}
	got := map[string]bool{}
	for _, l := range p.Listening {
		got[l] = true
	}
	if len(got) != 2 || !got["/run/fc/a.sock"] || !got["/run/fc/v.sock"] {
		t.Errorf("listening %v", p.Listening)
	}
}

func TestScanJailed(t *testing.T) {
	jail := t.TempDir()
	proc := fakeProc(t, 77, "firecracker", []string{"/firecracker", "--id", "j-1"}, jail, map[uint64]string{5: "/run/firecracker.socket"})
	ps, err := NewScanner(proc).Scan()
	if err != nil || len(ps) != 1 {
		t.Fatalf("Scan = %+v, %v", ps, err)
	}
	p := ps[0]
	if p.APISock != DefaultAPISock {
		t.Errorf("jailed process %+v", p)
	}
	if len(p.Listening) != 1 || p.Listening[0] != "/run/firecracker.socket" {
		t.Errorf("listening %v", p.Listening)
	}
}

func TestScanSkipsOthers(t *testing.T) {
	proc := fakeProc(t, 9, "qemu-system-x86", []string{"qemu"}, "", nil)
	if ps, err := NewScanner(proc).Scan(); err != nil || len(ps) != 0 {
		t.Fatalf("Scan = %+v, %v", ps, err)
	}
	if _, err := NewScanner(filepath.Join(proc, "absent")).Scan(); err == nil {
		t.Error("an absent procfs gave no error")
	}
}

func TestParseUIDs(t *testing.T) {
	for in, want := range map[string]bool{
		"Name:\tx\nUid:\t0\t0\t0\t0\n":     true,
		"Uid:\t65534\t65534\t65534\t65534": true,
		"Uid:\t0\t0\t0\n":                  false,
		"Uid:\t-1\t0\t0\t0\n":              false,
		"Gid:\t0\t0\t0\t0\n":               false,
	} {
		if _, ok := parseUIDs([]byte(in)); ok != want {
			t.Errorf("parseUIDs(%q) ok = %v", in, ok)
		}
	}
}

func FuzzParseUIDs(f *testing.F) {
	f.Add([]byte("Name:\tfirecracker\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"))
	f.Add([]byte("Uid:\t65534\t65534\t65534\t65534"))
	f.Add([]byte("Uid: 1 2 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		uids, ok := parseUIDs(b)
		for _, u := range uids {
			if ok && (u < 0 || u > 1<<32-1) {
				t.Fatalf("uids %v from %q", uids, b)
			}
		}
	})
}

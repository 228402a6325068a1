package vmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// cpioEntry is one parsed newc entry.
type cpioEntry struct {
	name         string
	mode         uint32
	data         string
	rdevMaj, min uint32
}

// parseCPIO reads a newc archive the way the kernel does, failing t on malformed input.
func parseCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at offset %d", off)
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		e := cpioEntry{mode: mode, rdevMaj: field(9), min: field(10)}
		e.name = string(b[off+110 : off+110+namesize-1])
		off = align(off + 110 + namesize)
		e.data = string(b[off : off+size])
		off = align(off + size)
		if e.name == "TRAILER!!!" {
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho hi\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	w.charDev("/dev/console", 5, 1)
	w.bytes("/init", 0o755, []byte("odd length!"))
	w.copyFile("/usr/local/bin/tool", src)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := parseCPIO(t, buf.Bytes())
	want := []cpioEntry{
		{name: "dev", mode: modeDir | 0o755},
		{name: "dev/console", mode: modeCharDev | 0o600, rdevMaj: 5, min: 1},
		{name: "init", mode: modeRegular | 0o755, data: "odd length!"},
		{name: "usr", mode: modeDir | 0o755},
		{name: "usr/local", mode: modeDir | 0o755},
		{name: "usr/local/bin", mode: modeDir | 0o755},
		{name: "usr/local/bin/tool", mode: modeRegular | 0o750, data: "#!/bin/sh\necho hi\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("archive holds %d entries %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCPIOWriterMissingFile(t *testing.T) {
	w := newCPIOWriter(&bytes.Buffer{})
	w.copyFile("/x", filepath.Join(t.TempDir(), "absent"))
	if err := w.Close(); err == nil {
		t.Fatal("Close after adding a missing file succeeded, want the error")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "'plain'",
		"it's":           `'it'\''s'`,
		"--listen a b":   "'--listen a b'",
		"$(rm -rf /)":    "'$(rm -rf /)'",
		"vsock://:1024,": "'vsock://:1024,'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

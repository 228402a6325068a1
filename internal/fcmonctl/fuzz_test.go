package fcmonctl

import (
	"strings"
	"testing"
	"time"
)

// debugfs's answer to stat of a regular file, as 1.47 prints it.
const statRegular = `Inode: 22   Type: regular    Mode:  0755   Flags: 0x80000
Generation: 0    Version: 0x00000000:00000000
User:     0   Group:     0   Project:     0   Size: 2277538
File ACL: 0
Links: 1   Blockcount: 4456
`

func TestParseStat(t *testing.T) {
	e, err := parseStat("/x", statRegular, nil)
	if err != nil || !e.exists || e.kind != "regular" || e.mode != 0o755 || e.size != 2277538 || e.uid != 0 {
		t.Errorf("regular: %+v %v", e, err)
	}
	e, err = parseStat("/l", "Inode: 24   Type: symlink    Mode:  0777   Flags: 0x0\nFast link dest: \"/usr/local/bin/y\"\n", nil)
	if err != nil || e.kind != "symlink" || e.linkTarget != "/usr/local/bin/y" {
		t.Errorf("symlink: %+v %v", e, err)
	}
	if e, err := parseStat("/nope", "", []string{"/nope: File not found by ext2_lookup"}); err != nil || e.exists {
		t.Errorf("missing: %+v %v", e, err)
	}
	if _, err := parseStat("/x", "garbage", []string{"stat: Filesystem not open"}); err == nil || !strings.Contains(err.Error(), "Filesystem not open") {
		t.Errorf("an answer that is no stat: %v", err)
	}
}

// FuzzParseStat: no output of debugfs makes the parser panic, and what it
// accepts is a file that exists with a kind.
func FuzzParseStat(f *testing.F) {
	f.Add(statRegular, "")
	f.Add("Type: symlink Mode: 0777\nFast link dest: \"x\"", "")
	f.Add("", "/a: File not found by ext2_lookup")
	f.Add("Type: regular    Mode:  99999999999999999999\nSize: -1", "")
	f.Fuzz(func(t *testing.T, out, problem string) {
		var problems []string
		if problem != "" {
			problems = []string{problem}
		}
		e, err := parseStat("/p", out, problems)
		if err == nil && e.exists && e.kind == "" {
			t.Errorf("accepted %q as an entry without a kind", out)
		}
	})
}

// FuzzParseWhen: a time argument is parsed or refused, never a panic, and
// a duration is always in the past.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"1h", "90m", "2026-12-07T10:00:00Z", "-5m", "0s", "yesterday", ""} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseWhen(s, now)
		if _, derr := time.ParseDuration(s); err == nil && derr == nil && ms >= now.UnixMilli() {
			t.Errorf("%q gives %d, not before now", s, ms)
		}
	})
}

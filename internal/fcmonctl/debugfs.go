package fcmonctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// image is an ext4 file system image worked on with e2fsprogs' debugfs,
// dumpe2fs and e2fsck, never mounted. debugfs exits 0 whatever happened,
// so every answer is read from its output and every write is checked
// afterwards.
type image struct {
	path  string
	tmp   string           // a private directory for dumps
	stats map[string]entry // what stat read since the last write: checks and writes ask for the same paths
}

// debugfsTimeout bounds one run of an e2fsprogs tool.
const debugfsTimeout = 2 * time.Minute

// runTool runs tool with args and stdin and returns its stdout and stderr.
func runTool(stdin string, tool string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), debugfsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(err, exec.ErrNotFound) {
		return "", "", fmt.Errorf("%s is not installed (Debian: apt-get install e2fsprogs)", tool)
	}
	return stdout.String(), stderr.String(), err
}

// debugfs runs commands (one per line) in debugfs, with -w when write.
// It returns what they printed, and the error lines debugfs wrote (its
// banner left out).
func (im *image) debugfs(write bool, commands ...string) (string, []string, error) {
	args := []string{"-f", "-"}
	if write {
		args = append([]string{"-w"}, args...)
		im.stats = nil // what it changes is read anew
	}
	out, errOut, err := runTool(strings.Join(commands, "\n")+"\n", "debugfs", append(args, im.path)...)
	if err != nil && out == "" {
		return "", nil, fmt.Errorf("debugfs: %w: %s", err, strings.TrimSpace(errOut))
	}
	var problems []string
	for _, l := range strings.Split(errOut, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "debugfs ") {
			problems = append(problems, l)
		}
	}
	return out, problems, nil
}

// superblock is what dumpe2fs -h says of the image.
type superblock struct {
	features           []string
	state              string
	blockSize          int64
	freeBlocks, inodes int64
	freeInodes         int64
}

var sbField = regexp.MustCompile(`(?m)^([A-Za-z ]+):\s+(.*)$`)

// readSuperblock reads the superblock, or says what the image is not.
func (im *image) readSuperblock() (superblock, error) {
	out, errOut, err := runTool("", "dumpe2fs", "-h", im.path)
	if err != nil {
		msg := strings.TrimSpace(errOut)
		if strings.Contains(msg, "Bad magic number") || strings.Contains(msg, "Couldn't find valid filesystem superblock") {
			return superblock{}, fmt.Errorf("%s is not an ext4 file system (no ext2/3/4 superblock)", im.path)
		}
		return superblock{}, fmt.Errorf("%s cannot be read as an ext4 file system: %s", im.path, lastLine(msg))
	}
	var sb superblock
	num := func(s string) int64 { n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64); return n }
	for _, m := range sbField.FindAllStringSubmatch(out, -1) {
		switch strings.TrimSpace(m[1]) {
		case "Filesystem features":
			sb.features = strings.Fields(m[2])
		case "Filesystem state":
			sb.state = strings.TrimSpace(m[2])
		case "Block size":
			sb.blockSize = num(m[2])
		case "Free blocks":
			sb.freeBlocks = num(m[2])
		case "Inode count":
			sb.inodes = num(m[2])
		case "Free inodes":
			sb.freeInodes = num(m[2])
		}
	}
	if sb.blockSize == 0 {
		return sb, fmt.Errorf("%s: dumpe2fs printed no block size; not an ext4 image?", im.path)
	}
	return sb, nil
}

func (sb superblock) has(feature string) bool {
	for _, f := range sb.features {
		if f == feature {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return ls[len(ls)-1]
}

// entry is what stat says of a path: its type, mode, owner, size and,
// for a symlink, its target.
type entry struct {
	exists     bool
	kind       string // "regular", "directory", "symlink", ...
	mode       uint32 // permission bits
	uid, gid   int
	size       int64
	linkTarget string
}

var (
	statType  = regexp.MustCompile(`Type: (\S+)\s+Mode:\s+(\d+)`)
	statOwner = regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+)`)
	statSize  = regexp.MustCompile(`Size: (\d+)`)
	statLink  = regexp.MustCompile(`Fast link dest: "(.*)"`)
)

// stat reads what the image holds at p (absolute); exists false when
// nothing.
func (im *image) stat(p string) (entry, error) {
	if e, ok := im.stats[p]; ok {
		return e, nil
	}
	out, problems, err := im.debugfs(false, "stat "+quote(p))
	if err != nil {
		return entry{}, err
	}
	e, err := parseStat(p, out, problems)
	if err != nil {
		return e, err
	}
	if e.kind == "symlink" && e.linkTarget == "" {
		// A long target lives in a block: dump it.
		b, err := im.read(p)
		if err != nil {
			return e, err
		}
		e.linkTarget = string(b)
	}
	im.remember(p, e)
	return e, nil
}

func (im *image) remember(p string, e entry) {
	if im.stats == nil {
		im.stats = map[string]entry{}
	}
	im.stats[p] = e
}

// parseStat reads debugfs's answer to stat p: its output and error lines.
// A long symlink's target is not in it (linkTarget stays empty).
func parseStat(p, out string, problems []string) (entry, error) {
	for _, l := range problems {
		if strings.Contains(l, "File not found") {
			return entry{}, nil
		}
	}
	m := statType.FindStringSubmatch(out)
	if m == nil {
		return entry{}, fmt.Errorf("debugfs stat %s: %s", p, strings.Join(problems, "; "))
	}
	e := entry{exists: true, kind: m[1]}
	mode, _ := strconv.ParseUint(m[2], 8, 32)
	e.mode = uint32(mode)
	if o := statOwner.FindStringSubmatch(out); o != nil {
		e.uid, _ = strconv.Atoi(o[1])
		e.gid, _ = strconv.Atoi(o[2])
	}
	if s := statSize.FindStringSubmatch(out); s != nil {
		e.size, _ = strconv.ParseInt(s[1], 10, 64)
	}
	if l := statLink.FindStringSubmatch(out); l != nil {
		e.linkTarget = l[1]
	}
	return e, nil
}

// read returns the contents of the file at p.
func (im *image) read(p string) ([]byte, error) {
	f, err := os.CreateTemp(im.tmp, "dump-")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	_, problems, err := im.debugfs(false, "dump "+quote(p)+" "+quote(name))
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("debugfs dump %s: %s", p, strings.Join(problems, "; "))
	}
	return os.ReadFile(name)
}

// fsck runs e2fsck -fn (reads only) and returns nil when the file system
// is clean.
func (im *image) fsck() error {
	out, errOut, err := runTool("", "e2fsck", "-fn", im.path)
	if err != nil {
		return fmt.Errorf("e2fsck -fn %s finds errors: %s", im.path, lastLine(out+errOut))
	}
	return nil
}

// quote quotes a path for debugfs's command reader, which splits on
// white space and honours double quotes.
func quote(p string) string {
	if strings.ContainsAny(p, " \t\"") {
		return `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
	}
	return p
}

// parents are the directories above p, outermost first: /usr, /usr/local
// for /usr/local/bin.
func parents(p string) []string {
	var out []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

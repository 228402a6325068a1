package fcmonctl

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/fcmon/fcmon/deploy"
)

// defaultAgent is where the fcmon-guest-agent package installs the agent.
const defaultAgent = "/usr/bin/fcmon-guest-agent"

// Init systems install-rootfs knows.
const (
	initSystemd = "systemd"
	initOpenRC  = "openrc"
	initBusybox = "busybox"
)

// settingsTemplate is the agent's settings file, written only when the
// image has none: the operator's edits survive an update.
const settingsTemplate = `# fcmon guest agent settings, written by fcmonctl install-rootfs: one
# GUEST_AGENT_* variable per flag (guest-agent --help lists them). The
# defaults serve TCP 0.0.0.0:8080 and vsock port 8080, sampling every second.
#GUEST_AGENT_LISTEN=0.0.0.0:8080,vsock://:8080
#GUEST_AGENT_INTERVAL=1s
#GUEST_AGENT_TOKEN_FILE=/etc/fcmon/guest-agent.token
#GUEST_AGENT_REGISTER_URL=http://10.0.0.1:8080
`

// busyboxScript runs the agent under busybox init, which respawns it from
// the /etc/inittab line install-rootfs adds.
const busyboxScript = `#!/bin/sh
# fcmon guest agent under busybox init, written by fcmonctl install-rootfs:
# /etc/inittab respawns this script, which becomes the agent. Its settings
# are GUEST_AGENT_* variables in /etc/default/guest-agent.
set -a
[ -r /etc/default/guest-agent ] && . /etc/default/guest-agent
set +a
log=/var/log/guest-agent.log
{ mkdir -p /var/log && : >>"$log"; } 2>/dev/null || log=/dev/null
exec ` + deploy.GuestAgentPath + ` >>"$log" 2>&1
`

// inittabMark and inittabLine are what install-rootfs adds to
// /etc/inittab; a second run replaces them.
const (
	inittabMark = "# the fcmon guest agent, respawned (fcmonctl install-rootfs):"
	inittabLine = "::respawn:/etc/init.d/guest-agent"
)

// busyboxDefaults is busybox init's built-in table, written with the
// agent's line when the image has no /etc/inittab (which then replaces it).
const busyboxDefaults = `::sysinit:/etc/init.d/rcS
::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/sbin/swapoff -a
::shutdown:/bin/umount -a -r
::restart:/sbin/init
`

// put is one file install-rootfs writes.
type put struct {
	path     string
	data     []byte
	from     string // a host file instead of data
	mode     uint32
	ifAbsent bool // settings: kept when there
}

// link is one symlink it makes.
type link struct{ path, target string }

func installRootfsCommand() command {
	var agent, initName string
	return command{
		name: "install-rootfs", args: 1, argsUsage: "IMAGE.ext4", local: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&agent, "agent", defaultAgent, "the guest agent's static binary to put into the image")
			fs.StringVar(&initName, "init", "", "the image's init system: systemd, openrc or busybox (default: found in the image)")
		},
		run: func(ctx context.Context, _ *client, g *globals, args []string) error {
			return installRootfs(g, args[0], agent, initName)
		},
	}
}

// installRootfs writes the guest agent, its settings and its service for
// the image's init system into an ext4 image with debugfs, without
// mounting it: every check comes before the first write, every write is
// read back, and e2fsck must find the file system clean afterwards.
func installRootfs(g *globals, imagePath, agentPath, initName string) error {
	switch initName {
	case "", initSystemd, initOpenRC, initBusybox:
	default:
		return fmt.Errorf("%w: --init %q is not systemd, openrc or busybox", errUsage, initName)
	}
	agentInfo, err := os.Stat(agentPath)
	switch {
	case errors.Is(err, os.ErrNotExist) && agentPath == defaultAgent:
		return fmt.Errorf("%s is not there: install the fcmon-guest-agent package, or name the binary with --agent", agentPath)
	case err != nil:
		return fmt.Errorf("--agent: %w", err)
	case !agentInfo.Mode().IsRegular():
		return fmt.Errorf("--agent %s is not a regular file", agentPath)
	}
	if err := checkAgent(agentPath); err != nil {
		return err
	}
	abs, err := filepath.Abs(imagePath)
	if err != nil {
		return err
	}
	// Writable, and held while we work: no second install-rootfs at once.
	f, err := os.OpenFile(abs, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("%s is read-only here: %w", imagePath, err)
		}
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%s is locked by another program (another install-rootfs?)", imagePath)
	}
	if user := holder(abs, f); user != "" {
		return fmt.Errorf("%s is in use by %s: stop it first (writing a mounted or running image corrupts it)", imagePath, user)
	}
	tmp, err := os.MkdirTemp("", "fcmonctl-rootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	im := &image{path: abs, tmp: tmp}
	sb, err := im.readSuperblock()
	if err != nil {
		return err
	}
	switch {
	case !sb.has("extent"):
		return fmt.Errorf("%s is an ext2 or ext3 file system, not ext4 (features: %s)", imagePath, strings.Join(sb.features, " "))
	case sb.has("needs_recovery") || sb.state != "clean":
		return fmt.Errorf("%s was not cleanly unmounted (state %q%s): it may be mounted or in use; run e2fsck on it when it is not",
			imagePath, sb.state, map[bool]string{true: ", journal needs recovery"}[sb.has("needs_recovery")])
	}
	if initName == "" {
		if initName, err = detectInit(im); err != nil {
			return err
		}
	}
	puts, links, err := plan(im, initName, agentPath)
	if err != nil {
		return err
	}
	if err := checkRoom(im, sb, puts); err != nil {
		return err
	}
	if err := im.fsck(); err != nil {
		return fmt.Errorf("%s is not clean before any change (%w); fcmonctl writes only into a clean file system", imagePath, err)
	}
	if err := apply(im, puts, links); err != nil {
		return err
	}
	if err := verify(im, puts, links); err != nil {
		return fmt.Errorf("%w (the image was written but does not read back as it should)", err)
	}
	if err := im.fsck(); err != nil {
		return fmt.Errorf("after writing: %w", err)
	}
	if g.output == "json" {
		var names []string
		for _, p := range puts {
			names = append(names, strconv.Quote(p.path))
		}
		for _, l := range links {
			names = append(names, strconv.Quote(l.path))
		}
		fmt.Fprintf(g.stdout, "{\"image\":%q,\"init\":%q,\"written\":[%s]}\n", imagePath, initName, strings.Join(names, ","))
		return nil
	}
	fmt.Fprintf(g.stdout, "%s: the guest agent for %s init, verified with debugfs and e2fsck:\n", imagePath, initName)
	for _, p := range puts {
		fmt.Fprintf(g.stdout, "  %s\n", p.path)
	}
	for _, l := range links {
		fmt.Fprintf(g.stdout, "  %s -> %s\n", l.path, l.target)
	}
	return nil
}

// checkAgent refuses a binary that is not a static ELF executable: the
// image has no libraries fcmon knows of.
func checkAgent(p string) error {
	b := make([]byte, 4096)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("--agent: %w", err)
	}
	n, _ := f.Read(b)
	f.Close()
	b = b[:n]
	if !bytes.HasPrefix(b, []byte("\x7fELF")) {
		return fmt.Errorf("--agent %s is not an ELF executable", p)
	}
	if bytes.Contains(b, []byte("/lib64/ld-linux")) || bytes.Contains(b, []byte("/lib/ld-")) {
		return fmt.Errorf("--agent %s is linked dynamically; the guest agent is built static (make guest-agent)", p)
	}
	return nil
}

// holder names a process that has the image open (a running VM, say) or
// a loop device backed by it; "" when none is seen.
func holder(abs string, self *os.File) string {
	mine, err := self.Stat()
	if err != nil {
		return ""
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, bf := range loops {
		b, err := os.ReadFile(bf)
		if err != nil {
			continue
		}
		if st, err := os.Stat(strings.TrimSpace(string(b))); err == nil && os.SameFile(st, mine) {
			return "loop device /dev/" + filepath.Base(filepath.Dir(filepath.Dir(bf))) + " (mounted?)"
		}
	}
	procs, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == me {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			st, err := os.Stat(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err == nil && os.SameFile(st, mine) {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return fmt.Sprintf("process %d (%s)", pid, strings.TrimSpace(string(comm)))
			}
		}
	}
	return ""
}

// detectInit says which init system the image boots.
func detectInit(im *image) (string, error) {
	for _, c := range []struct{ init, path string }{
		{initSystemd, "/lib/systemd/systemd"}, {initSystemd, "/usr/lib/systemd/systemd"},
		{initOpenRC, "/sbin/openrc-run"}, {initOpenRC, "/usr/sbin/openrc-run"}, {initOpenRC, "/sbin/openrc"},
		{initBusybox, "/bin/busybox"}, {initBusybox, "/usr/bin/busybox"},
	} {
		e, err := im.stat(c.path)
		if err != nil {
			return "", err
		}
		if e.exists {
			return c.init, nil
		}
	}
	return "", fmt.Errorf("%s boots no init fcmonctl knows (no systemd, OpenRC or busybox found); name one with --init", im.path)
}

// plan is what to write for the init system.
func plan(im *image, initName, agent string) ([]put, []link, error) {
	puts := []put{{path: deploy.GuestAgentPath, from: agent, mode: 0o755}}
	var links []link
	switch initName {
	case initSystemd:
		puts = append(puts, put{path: "/etc/systemd/system/guest-agent.service", data: deploy.GuestAgentSystemd, mode: 0o644},
			put{path: "/etc/default/guest-agent", data: []byte(settingsTemplate), mode: 0o644, ifAbsent: true})
		links = append(links, link{"/etc/systemd/system/multi-user.target.wants/guest-agent.service", "/etc/systemd/system/guest-agent.service"})
	case initOpenRC:
		puts = append(puts, put{path: "/etc/init.d/guest-agent", data: deploy.GuestAgentOpenRC, mode: 0o755},
			put{path: "/etc/conf.d/guest-agent", data: []byte(settingsTemplate), mode: 0o644, ifAbsent: true})
		links = append(links, link{"/etc/runlevels/default/guest-agent", "/etc/init.d/guest-agent"})
	case initBusybox:
		e, err := im.stat("/etc/inittab")
		if err != nil {
			return nil, nil, err
		}
		tab := []byte(busyboxDefaults)
		if e.exists {
			if tab, err = im.read("/etc/inittab"); err != nil {
				return nil, nil, err
			}
		}
		puts = append(puts, put{path: "/etc/init.d/guest-agent", data: []byte(busyboxScript), mode: 0o755},
			put{path: "/etc/default/guest-agent", data: []byte(settingsTemplate), mode: 0o644, ifAbsent: true},
			put{path: "/etc/inittab", data: withLine(tab), mode: 0o644})
	}
	kept := puts[:0]
	for _, p := range puts {
		if p.ifAbsent {
			e, err := im.stat(p.path)
			if err != nil {
				return nil, nil, err
			}
			if e.exists {
				continue // the settings stay as the operator left them
			}
		}
		kept = append(kept, p)
	}
	puts = kept
	return puts, links, nil
}

// withLine is tab with the agent's respawn line, once.
func withLine(tab []byte) []byte {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(tab), "\n"), "\n") {
		if t := strings.TrimSpace(l); t != inittabMark && t != inittabLine {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(append(out, inittabMark, inittabLine), "\n") + "\n")
}

// checkRoom refuses an image without the blocks and inodes the writes
// need (what they replace given back).
func checkRoom(im *image, sb superblock, puts []put) error {
	var need, inodes int64
	for _, p := range puts {
		size := int64(len(p.data))
		if p.from != "" {
			st, err := os.Stat(p.from)
			if err != nil {
				return err
			}
			size = st.Size()
		}
		need += (size+sb.blockSize-1)/sb.blockSize + 2 // data, and extent or indirect blocks
		e, err := im.stat(p.path)
		if err != nil {
			return err
		}
		if e.exists {
			need -= (e.size + sb.blockSize - 1) / sb.blockSize
		} else {
			inodes++
		}
		for _, d := range parents(p.path) {
			if e, err := im.stat(d); err != nil {
				return err
			} else if !e.exists {
				need++
				inodes++
			}
		}
	}
	need += 8 // directory growth, links
	if need > sb.freeBlocks || inodes+4 > sb.freeInodes {
		return fmt.Errorf("%s has no room: the guest agent needs about %d KiB and %d inodes, the file system has %d KiB and %d inodes free (resize2fs grows it)",
			im.path, need*sb.blockSize/1024, inodes+4, sb.freeBlocks*sb.blockSize/1024, sb.freeInodes)
	}
	return nil
}

// apply writes the files and links: directories made where missing, a
// file there before removed first, so a second run replaces rather than
// duplicates.
func apply(im *image, puts []put, links []link) error {
	var cmds []string
	made := map[string]bool{}
	mkdirs := func(p string) error {
		for _, d := range parents(p) {
			if made[d] {
				continue
			}
			e, err := im.stat(d)
			if err != nil {
				return err
			}
			if !e.exists {
				cmds = append(cmds, "mkdir "+quote(d), "sif "+quote(d)+" mode 040755", "sif "+quote(d)+" uid 0", "sif "+quote(d)+" gid 0")
			} else if e.kind != "directory" {
				return fmt.Errorf("%s: %s is a %s, not a directory", im.path, d, e.kind)
			}
			made[d] = true
		}
		return nil
	}
	for i, p := range puts {
		if err := mkdirs(p.path); err != nil {
			return err
		}
		src := p.from
		if src == "" {
			src = filepath.Join(im.tmp, "file-"+strconv.Itoa(i))
			if err := os.WriteFile(src, p.data, 0o600); err != nil {
				return err
			}
		}
		e, err := im.stat(p.path)
		if err != nil {
			return err
		}
		if e.exists {
			if e.kind == "directory" {
				return fmt.Errorf("%s: %s is a directory", im.path, p.path)
			}
			cmds = append(cmds, "rm "+quote(p.path))
		}
		cmds = append(cmds, "write "+quote(src)+" "+quote(p.path),
			fmt.Sprintf("sif %s mode 0%o", quote(p.path), 0o100000|p.mode), "sif "+quote(p.path)+" uid 0", "sif "+quote(p.path)+" gid 0")
	}
	for _, l := range links {
		if err := mkdirs(l.path); err != nil {
			return err
		}
		e, err := im.stat(l.path)
		if err != nil {
			return err
		}
		if e.exists {
			if e.kind == "directory" {
				return fmt.Errorf("%s: %s is a directory", im.path, l.path)
			}
			cmds = append(cmds, "rm "+quote(l.path))
		}
		cmds = append(cmds, "symlink "+quote(l.path)+" "+quote(l.target))
	}
	_, problems, err := im.debugfs(true, cmds...)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("debugfs could not write %s: %s", im.path, strings.Join(problems, "; "))
	}
	return nil
}

// verify reads every file and link back.
func verify(im *image, puts []put, links []link) error {
	for _, p := range puts {
		want := p.data
		if p.from != "" {
			var err error
			if want, err = os.ReadFile(p.from); err != nil {
				return err
			}
		}
		e, err := im.stat(p.path)
		if err != nil {
			return err
		}
		if !e.exists || e.kind != "regular" || e.mode != p.mode || e.uid != 0 || e.gid != 0 || e.size != int64(len(want)) {
			return fmt.Errorf("%s in %s: %+v, want a regular file of %d bytes, mode %o, owned by root", p.path, im.path, e, len(want), p.mode)
		}
		got, err := im.read(p.path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s in %s reads back other bytes than were written", p.path, im.path)
		}
	}
	for _, l := range links {
		e, err := im.stat(l.path)
		if err != nil {
			return err
		}
		if e.kind != "symlink" || e.linkTarget != l.target {
			return fmt.Errorf("%s in %s: %+v, want a link to %s", l.path, im.path, e, l.target)
		}
	}
	return nil
}

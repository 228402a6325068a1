package procfs

import "strings"

// Mount is one mounted filesystem from /proc/mounts, with the kernel's octal
// escapes (\040 for a space and so on) decoded.
type Mount struct {
	Device     string // e.g. "/dev/vda"; whatever the filesystem reports
	MountPoint string
	FSType     string
	ReadOnly   bool // mounted with the "ro" option
}

// Mounts reads <proc>/mounts and returns the filesystems that hold data:
// pseudo and memory filesystems (proc, sysfs, tmpfs, cgroup, ...) are left
// out. When a mount point appears more than once, only the last mount is
// kept, because it hides the earlier ones; that rule is applied before
// filtering, so a tmpfs mounted over a disk hides the disk too.
func (fs FS) Mounts() ([]Mount, error) {
	all, err := readAndParse(fs.procPath("mounts"), parseMounts)
	if err != nil {
		return nil, err
	}
	return realMounts(all), nil
}

// realMounts applies the shadowing and filtering rules of Mounts, keeping
// file order.
func realMounts(all []Mount) []Mount {
	latest := make(map[string]int, len(all))
	for i, m := range all {
		latest[m.MountPoint] = i
	}
	out := make([]Mount, 0, len(latest))
	for i, m := range all {
		if latest[m.MountPoint] == i && !pseudoFS(m.FSType) {
			out = append(out, m)
		}
	}
	return out
}

// pseudoFS reports filesystem types with no storage behind them.
func pseudoFS(fstype string) bool {
	switch fstype {
	case "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs",
		"debugfs", "devpts", "devtmpfs", "efivarfs", "fusectl", "hugetlbfs",
		"mqueue", "nsfs", "proc", "pstore", "ramfs", "rootfs", "rpc_pipefs",
		"securityfs", "selinuxfs", "sysfs", "tracefs", "tmpfs",
		// Not storage either: old kernels' USB device list, the NFS server's
		// control files and LXCFS's container view of /proc.
		"usbfs", "nfsd", "fuse.lxcfs":
		return true
	}
	return false
}

// parseMounts parses every line of /proc/mounts:
// "device mountpoint fstype options dump pass".
func parseMounts(data []byte) ([]Mount, error) {
	if err := checkTerminated(data); err != nil {
		return nil, err
	}
	text := string(data) // unescaped fields are then slices of it
	mounts := make([]Mount, 0, countLines(text))
	l := lines[string]{rest: text}
	for line, ok := l.next(); ok; line, ok = l.next() {
		m, err := parseMountLine(l.n, line)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

func parseMountLine(n int, line string) (Mount, error) {
	var f [6]string
	rest := line
	for i := range f {
		f[i], rest = nextField(rest)
		if f[i] == "" {
			return Mount{}, lineErr(n, "want 6 fields, got "+quote(line))
		}
	}
	if extra, _ := nextField(rest); extra != "" {
		return Mount{}, lineErr(n, "unexpected field "+quote(extra))
	}
	for _, num := range f[4:] {
		if _, err := parseUint(num); err != nil {
			return Mount{}, fieldErr(n, "dump/pass field", num, err)
		}
	}
	m := Mount{ReadOnly: hasOption(f[3], "ro")}
	for i, dst := range [...]*string{&m.Device, &m.MountPoint, &m.FSType} {
		v, ok := unescapeOctal(f[i])
		if !ok {
			return Mount{}, lineErr(n, "bad escape in "+quote(f[i]))
		}
		*dst = v
	}
	return m, nil
}

// hasOption reports whether the comma-separated list opts holds opt.
func hasOption(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}

// unescapeOctal decodes the \ooo escapes the kernel writes for blanks,
// newlines, backslashes and '#'. A backslash not followed by three octal
// digits of a byte value is malformed.
func unescapeOctal(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+4 > len(s) {
			return "", false
		}
		v := 0
		for j := i + 1; j < i+4; j++ {
			c := s[j]
			if c < '0' || c > '7' {
				return "", false
			}
			v = v*8 + int(c-'0')
		}
		if v > 0xff {
			return "", false
		}
		b = append(b, byte(v))
		i += 3
	}
	return string(b), true
}

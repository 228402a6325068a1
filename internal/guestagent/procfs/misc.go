package procfs

import "strings"

// BootID reads <proc>/sys/kernel/random/boot_id, a UUID the kernel draws at
// boot: a new value means every counter restarted.
func (fs FS) BootID() (string, error) {
	return fs.readLine("sys/kernel/random/boot_id", false)
}

// Hostname reads <proc>/sys/kernel/hostname, the UTS namespace's host name.
func (fs FS) Hostname() (string, error) {
	return fs.readLine("sys/kernel/hostname", false)
}

// OSRelease reads <proc>/sys/kernel/osrelease, e.g. "6.18.44-fc-v657".
func (fs FS) OSRelease() (string, error) {
	return fs.readLine("sys/kernel/osrelease", false)
}

// Uname reads what uname(2) tells beyond the host name and release, from
// <proc>/sys/kernel: the NIS domain name ("(none)" when unset), the
// kernel's build version and the machine (arch, since Linux 6.1; "" on
// older kernels).
func (fs FS) Uname() (domainname, version, machine string) {
	domainname, _ = fs.readLine("sys/kernel/domainname", true)
	version, _ = fs.readLine("sys/kernel/version", true)
	machine, _ = fs.readLine("sys/kernel/arch", true)
	return domainname, version, machine
}

// Cmdline reads <proc>/cmdline, the kernel's boot arguments. It may be
// empty.
func (fs FS) Cmdline() (string, error) {
	return fs.readLine("cmdline", true)
}

// readLine reads a one-line file and returns it without its newline.
func (fs FS) readLine(name string, emptyOK bool) (string, error) {
	path := fs.procPath(name)
	data, err := readFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(string(data), "\n")
	switch {
	case strings.IndexByte(s, '\n') >= 0:
		return "", parseErr(path, lineErr(2, "unexpected second line"))
	case s == "" && !emptyOK:
		return "", parseErr(path, lineErr(1, "empty"))
	}
	return s, nil
}

// ProcessCount returns the number of processes (thread groups) visible in
// <proc>: its numeric entries.
func (fs FS) ProcessCount() (int, error) {
	return countProcessDirs(fs.proc)
}

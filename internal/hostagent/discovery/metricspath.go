package discovery

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fcmon/fcmon/internal/hostagent/discover"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// maxConfigBytes bounds a --config-file read for its metrics section.
const maxConfigBytes = 1 << 20

// metricsPath finds where a Firecracker process writes its metrics lines.
// Its API never says (GET /vm/config answers "metrics": null), so, in
// order: --metrics-path on its command line; the "metrics" section of the
// --config-file it was started with (read in its jail); else the one FIFO
// (or, with none, the one regular file) it holds open for writing that is
// not its log, a drive or a pmem device — which is how a metrics output
// configured by PUT /metrics is found. It returns the path as the process
// names it, or "" and why none was found.
func (d *discovery) metricsPath(p discover.Process, root *vmpath.Root, vc firecracker.VMConfig) (string, string) {
	if p.MetricsPath != "" {
		return p.MetricsPath, ""
	}
	var logPath string
	if p.ConfigFile != "" {
		cf, err := readConfig(root, p.ConfigFile)
		switch {
		case err != nil:
			d.log.Debug("discovery: reading a VM's config file", "pid", p.PID, "err", err)
		case cf.Metrics.MetricsPath != "":
			return cf.Metrics.MetricsPath, ""
		default:
			logPath = cf.Logger.LogPath
		}
	}
	if logPath == "" {
		logPath = p.LogPath
	}
	return d.openMetrics(p, root, vc, logPath)
}

// configFile is what discovery reads of a --config-file.
type configFile struct {
	Metrics struct {
		MetricsPath string `json:"metrics_path"`
	} `json:"metrics"`
	Logger struct {
		LogPath string `json:"log_path"`
	} `json:"logger"`
}

func readConfig(root *vmpath.Root, name string) (configFile, error) {
	var cf configFile
	b, err := root.ReadFile(name, maxConfigBytes)
	if err != nil {
		return cf, err
	}
	return cf, json.Unmarshal(b, &cf)
}

// openMetrics looks among the files the process holds open for writing.
func (d *discovery) openMetrics(p discover.Process, root *vmpath.Root, vc firecracker.VMConfig, logPath string) (string, string) {
	exclude := map[vmpath.FileKey]bool{}
	not := []string{logPath}
	for _, dr := range vc.Drives {
		not = append(not, dr.PathOnHost)
	}
	for _, n := range not {
		if n == "" {
			continue
		}
		if k, err := root.Key(n, vmpath.Metrics); err == nil {
			exclude[k] = true
		}
	}
	fds := filepath.Join(d.o.ProcRoot, strconv.Itoa(p.PID), "fd")
	entries, err := os.ReadDir(fds)
	if err != nil {
		return "", "its open files cannot be read: " + err.Error()
	}
	var fifos, files []string
	for _, e := range entries {
		fd := filepath.Join(fds, e.Name())
		link, err := os.Readlink(fd)
		if err != nil || !filepath.IsAbs(link) || strings.HasPrefix(link, "/dev/") || !writable(d.o.ProcRoot, p.PID, e.Name()) {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fd, &st) != nil {
			continue
		}
		key := vmpath.FileKey{Dev: st.Dev, Ino: st.Ino}
		if exclude[key] {
			continue
		}
		// The process's own name of it: the link reads the host's path of
		// a chroot, the jail's own of a pivot_root.
		name := link
		if root.Jailed() {
			if rest, ok := strings.CutPrefix(link, root.Dir()+"/"); ok {
				name = "/" + rest
			}
		}
		if k, err := root.Key(name, vmpath.Metrics); err != nil || k != key {
			continue // not the file that name reaches in its root
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO:
			fifos = appendNew(fifos, name)
		case unix.S_IFREG:
			files = appendNew(files, name)
		}
	}
	for _, c := range [][]string{fifos, files} {
		switch len(c) {
		case 0:
			continue
		case 1:
			return c[0], ""
		}
		return "", "it holds several files open for writing (" + strings.Join(c, ", ") + "): start it with --metrics-path to tell which takes its metrics"
	}
	return "", "it names no metrics output (--metrics-path, its config file's \"metrics\") and holds none open"
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// writable reports whether descriptor fd of pid is open for writing, from
// the flags of /proc/PID/fdinfo/FD.
func writable(procRoot string, pid int, fd string) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "fdinfo", fd))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&unix.O_ACCMODE != unix.O_RDONLY
		}
	}
	return false
}

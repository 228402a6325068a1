package sampler

import (
	"runtime"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// identity is who the guest is: host name, kernel release and online CPUs.
type identity struct {
	hostname, kernel          string
	domain, kversion, machine string
	cpus                      int
}

func init() { register(func(*Options) figure { return &identity{} }) }

func (f *identity) read(fs procfs.FS) []sourceErr {
	var err error
	f.cpus, err = fs.OnlineCPUs()
	f.hostname, _ = fs.Hostname() // identity only: absence is not worth an error
	f.kernel, _ = fs.OSRelease()
	f.domain, f.kversion, f.machine = fs.Uname()
	if f.machine == "" {
		f.machine = goarchMachine[runtime.GOARCH]
	}
	return failed("cpu_online", err)
}

func (f *identity) fill(m *wire.GuestMetrics, _ window) {
	m.Hostname, m.Kernel, m.CPUCount = f.hostname, f.kernel, f.cpus
}

func (f *identity) prom(w *promtext.Writer) {
	if f.kernel != "" || f.hostname != "" {
		w.Family("node_uname_info", "gauge", "Labeled system information as provided by the uname system call.")
		// node_exporter's label set, so its queries match unchanged.
		w.Sample(1, "domainname", f.domain, "machine", f.machine, "nodename", f.hostname, "release", f.kernel,
			"sysname", "Linux", "version", f.kversion)
	}
}

// goarchMachine is uname's machine for a kernel too old to have
// /proc/sys/kernel/arch: the agent's own architecture is the kernel's.
var goarchMachine = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"}

package fcstandin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// QEMUOptions describe a microVM that is a real QEMU guest behind a
// Firecracker stand-in.
type QEMUOptions struct {
	ID string
	// Dir holds the API socket (firecracker.socket), the vsock socket
	// (v.sock) and the metrics FIFO (metrics.fifo); keep it short, Unix
	// socket paths have at most 107 bytes.
	Dir string
	// Guest is the QEMU guest; Name, QMP, Balloon, Env and ExtraFiles are
	// the launcher's.
	Guest vmtest.Config
	// WorkDir holds the guest's initramfs and disk.
	WorkDir string
}

// QEMUVM is a QEMU guest made to look like a Firecracker microVM to the
// host: QEMU's process has comm "firecracker" and vCPU threads "fc_vcpu N"
// (an LD_PRELOAD shim), and holds the API and vsock sockets a launcher
// created, which this process serves as Firecracker would (QEMU cannot be
// given Firecracker's command line: rewriting another process's is refused,
// so discovery finds it by the Unix sockets it listens on).
type QEMUVM struct {
	Guest    *vmtest.VM
	StandIn  *VM
	APISock  string
	VsockUDS string
	Metrics  string
	qmp      *QMP
	guestURL string
	once     sync.Once
}

// LaunchQEMU boots the guest behind a stand-in and returns once the guest's
// console is ready. Stop ends both.
func LaunchQEMU(ctx context.Context, o QEMUOptions) (*QEMUVM, error) {
	shim, err := Shim("")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	q := &QEMUVM{APISock: filepath.Join(o.Dir, "firecracker.socket"), VsockUDS: filepath.Join(o.Dir, "v.sock"),
		Metrics: filepath.Join(o.Dir, "metrics.fifo")}
	for _, p := range []string{q.APISock, q.VsockUDS, q.Metrics} {
		os.Remove(p)
	}
	if err := syscall.Mkfifo(q.Metrics, 0o600); err != nil {
		return nil, err
	}
	api, apiFile, err := listenUnix(q.APISock)
	if err != nil {
		return nil, err
	}
	vs, vsFile, err := listenUnix(q.VsockUDS)
	if err != nil {
		api.Close()
		return nil, err
	}
	g := o.Guest
	g.Name, g.QMP, g.Balloon = o.ID, true, true
	g.Env = append(g.Env, "LD_PRELOAD="+shim)
	g.ExtraFiles = []*os.File{apiFile, vsFile}
	vm, err := vmtest.Launch(ctx, g, o.WorkDir)
	apiFile.Close()
	vsFile.Close()
	// Handing a descriptor to a child makes it blocking, and the flag is
	// shared with the listener's own descriptor: set it back, or Accept
	// blocks in the kernel and Close cannot end it.
	setNonblock(api)
	setNonblock(vs)
	if err != nil {
		api.Close()
		vs.Close()
		return nil, err
	}
	q.Guest, q.guestURL = vm, vm.AgentURL()
	if q.qmp, err = DialQMP(vm.QMPPath()); err == nil {
		q.qmp.EnableBalloonStats(1)
	}
	cfg := Config{ID: o.ID,
		MachineConfig: MachineConfig{VCPUCount: max(g.CPUs, 1), MemSizeMiB: max(g.MemoryMiB, 256)},
		Balloon:       &Balloon{DeflateOnOOM: true, StatsPollingIntervalS: 1},
		Vsock:         &Vsock{GuestCID: 3, UDSPath: q.VsockUDS},
		Network:       []NetworkInterface{{IfaceID: "eth0", HostDevName: "tap-" + o.ID}},
		Metrics:       &Metrics{MetricsPath: q.Metrics},
	}
	switch {
	case g.RootImage != "":
		cfg.Drives = []Drive{{DriveID: "rootfs", PathOnHost: ptr(g.RootImage), IsRootDevice: true}}
	case g.DiskMiB > 0:
		cfg.Drives = []Drive{{DriveID: "rootfs", PathOnHost: ptr(filepath.Join(o.WorkDir, "disk.raw")), IsRootDevice: true}}
	}
	q.StandIn, err = Start(cfg, Options{API: api, Vsock: vs, Running: true,
		Forward: map[uint32]string{uint32(wire.DefaultGuestPort): "127.0.0.1:" + strconv.Itoa(vm.HostPort())},
		Sources: Sources{Balloon: q.balloon, Counters: q.counters}})
	if err != nil {
		vm.Stop()
		return nil, err
	}
	return q, nil
}

// listenUnix listens on path and returns the listener and a descriptor of
// the same socket for a child process to inherit.
func listenUnix(path string) (*net.UnixListener, *os.File, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	f, err := ln.File()
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, f, nil
}

func setNonblock(ln *net.UnixListener) {
	if rc, err := ln.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), true) })
	}
}

// PID is the pid of QEMU, the process the host sees as Firecracker.
func (q *QEMUVM) PID() int { return q.Guest.PID() }

// QMP is the guest's machine-protocol connection (nil when it failed).
func (q *QEMUVM) QMP() *QMP { return q.qmp }

// Stop stops the stand-in and the guest.
func (q *QEMUVM) Stop() error {
	var err error
	q.once.Do(func() {
		q.StandIn.Close()
		if q.qmp != nil {
			q.qmp.Close()
		}
		err = q.Guest.Stop()
		os.Remove(q.Metrics)
	})
	return err
}

func (q *QEMUVM) balloon() (BalloonStats, bool) {
	if q.qmp == nil {
		return BalloonStats{}, false
	}
	return q.qmp.BalloonStats()
}

// counters are the guest's interface counters, as its agent reports them
// (QEMU's user network has no counters of its own), and QEMU's block
// statistics.
func (q *QEMUVM) counters() Counters {
	c := Counters{Net: map[string]NetCounters{}, Block: map[string]BlockCounters{}}
	client := http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Get(q.guestURL + "/metrics"); err == nil {
		var m wire.GuestMetrics
		if json.NewDecoder(resp.Body).Decode(&m) == nil {
			for _, n := range m.Network {
				if n.Interface == "eth0" {
					c.Net["eth0"] = NetCounters{RxBytes: n.RxBytes, TxBytes: n.TxBytes, RxPackets: n.RxPackets, TxPackets: n.TxPackets}
				}
			}
		}
		resp.Body.Close()
	}
	if q.qmp != nil {
		if bs, err := q.qmp.BlockStats(); err == nil {
			if b, ok := bs["rootfs"]; ok {
				c.Block["rootfs"] = b
			}
		}
	}
	return c
}

// String names the VM for logs.
func (q *QEMUVM) String() string { return fmt.Sprintf("QEMU pid %d behind %s", q.PID(), q.APISock) }

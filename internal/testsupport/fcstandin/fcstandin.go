// Package fcstandin is a stand-in for Firecracker, for tests and the demo,
// on machines where Firecracker cannot run. It is exact where fcmon touches
// Firecracker: the API on a Unix socket with Firecracker's answers for the
// calls fcmon makes (and Firecracker's 400 with a fault_message for the
// rest), metrics lines of Firecracker v1.16's format written to the
// metrics path on FlushMetrics, and a hybrid-vsock muxer on the vsock Unix
// socket that parses CONNECT as Firecracker's does, answers "OK <port>\n"
// and forwards to the guest's port (here over TCP into a QEMU guest, as
// this host has no vhost-vsock). It is for tests only.
package fcstandin

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// VMMVersion is the Firecracker version the stand-in answers as.
const VMMVersion = "1.16.1"

// Config describes one stand-in microVM. Its JSON shape is Firecracker's
// --config-file's (and GET /vm/config's) for the parts fcmon reads.
type Config struct {
	ID            string             `json:"-"`
	MachineConfig MachineConfig      `json:"machine-config"`
	Balloon       *Balloon           `json:"balloon"`
	Vsock         *Vsock             `json:"vsock"`
	Network       []NetworkInterface `json:"network-interfaces"`
	Drives        []Drive            `json:"drives"`
	Metrics       *Metrics           `json:"metrics"`
}

// MachineConfig is Firecracker's machine-config.
type MachineConfig struct {
	VCPUCount  int `json:"vcpu_count"`
	MemSizeMiB int `json:"mem_size_mib"`
}

// Balloon is Firecracker's balloon device.
type Balloon struct {
	AmountMiB             int  `json:"amount_mib"`
	DeflateOnOOM          bool `json:"deflate_on_oom"`
	StatsPollingIntervalS int  `json:"stats_polling_interval_s"`
}

// Vsock is Firecracker's vsock device.
type Vsock struct {
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

// NetworkInterface is one of Firecracker's network interfaces.
type NetworkInterface struct {
	IfaceID     string `json:"iface_id"`
	HostDevName string `json:"host_dev_name"`
	GuestMAC    string `json:"guest_mac,omitempty"`
}

// Drive is one of Firecracker's drives.
type Drive struct {
	DriveID      string `json:"drive_id"`
	PathOnHost   string `json:"path_on_host"`
	IsRootDevice bool   `json:"is_root_device"`
	IsReadOnly   bool   `json:"is_read_only"`
}

// Metrics is Firecracker's metrics output.
type Metrics struct {
	MetricsPath string `json:"metrics_path"`
}

// Sources are where a stand-in's figures come from; any may be nil.
type Sources struct {
	// Balloon gives the guest's memory as its balloon driver would report
	// it (bytes, Firecracker's names); false: the driver has not reported.
	Balloon func() (BalloonStats, bool)
	// Counters gives totals since boot of each interface and drive; the
	// metrics lines carry their deltas since the previous line.
	Counters func() Counters
}

// Counters are a VM's device totals since boot.
type Counters struct {
	Net   map[string]NetCounters   // by iface_id
	Block map[string]BlockCounters // by drive_id
}

// NetCounters are one interface's totals, from the guest's point of view
// (rx into the guest).
type NetCounters struct{ RxBytes, TxBytes, RxPackets, TxPackets uint64 }

// BlockCounters are one drive's totals.
type BlockCounters struct{ ReadBytes, WriteBytes, Reads, Writes uint64 }

// VM is a running stand-in: its API server, muxer and metrics output.
type VM struct {
	cfg     Config
	src     Sources
	started time.Time

	api    net.Listener
	muxer  *muxer
	closed chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	running bool     // InstanceStart done
	metrics *os.File // the metrics path, once opened
	lastCnt Counters // at the previous metrics line
	missed  uint64   // lines that could not be written
}

// Options are how Start serves a VM.
type Options struct {
	// API is the listener of the API socket; when nil, Start listens on
	// APISock.
	API     net.Listener
	APISock string
	// Vsock is the listener of the vsock device's Unix socket; when nil and
	// the config has a vsock, Start listens on its uds_path.
	Vsock net.Listener
	// Forward maps a guest vsock port to the TCP address its connections
	// are relayed to; a port without one refuses, as a guest port nobody
	// listens on does.
	Forward map[uint32]string
	// Running: the VM is booted (with a config file, Firecracker boots at
	// once); otherwise it waits for InstanceStart.
	Running bool
	Sources Sources
}

// Start serves the VM described by cfg until Close.
func Start(cfg Config, o Options) (*VM, error) {
	v := &VM{cfg: cfg, src: o.Sources, started: time.Now(), running: o.Running, closed: make(chan struct{})}
	var err error
	v.api = o.API
	if v.api == nil {
		if o.APISock == "" {
			return nil, errors.New("fcstandin: no API socket")
		}
		if v.api, err = net.Listen("unix", o.APISock); err != nil {
			return nil, err
		}
	}
	if cfg.Vsock != nil {
		ln := o.Vsock
		if ln == nil {
			if ln, err = net.Listen("unix", cfg.Vsock.UDSPath); err != nil {
				v.api.Close()
				return nil, err
			}
		}
		v.muxer = newMuxer(ln, o.Forward)
		v.wg.Go(v.muxer.serve)
	}
	if cfg.Metrics != nil && v.running {
		v.openMetrics()
	}
	v.wg.Go(v.serveAPI)
	return v, nil
}

// ID is the VM's instance id.
func (v *VM) ID() string { return v.cfg.ID }

// Restore acts as a snapshot restore does for vsock: every connection
// through the muxer is reset.
func (v *VM) Restore() {
	if v.muxer != nil {
		v.muxer.resetAll()
	}
}

// SetForward changes where connections to a guest vsock port go; "" makes
// the port refuse.
func (v *VM) SetForward(port uint32, addr string) {
	if v.muxer != nil {
		v.muxer.setForward(port, addr)
	}
}

// Close stops serving and closes the sockets and the metrics output.
func (v *VM) Close() {
	select {
	case <-v.closed:
		return
	default:
	}
	close(v.closed)
	v.api.Close()
	if v.muxer != nil {
		v.muxer.close()
	}
	v.wg.Wait()
	v.mu.Lock()
	if v.metrics != nil {
		v.metrics.Close()
	}
	v.mu.Unlock()
}

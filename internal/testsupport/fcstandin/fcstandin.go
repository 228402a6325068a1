// Package fcstandin is a stand-in for Firecracker, for tests and the demo,
// on machines where Firecracker cannot run, written from Firecracker
// v1.16.1's sources (firecracker-facts.json holds what it follows, each
// fact with the file and line it comes from), never from fcmon's client:
// the API on a Unix socket — the calls that configure and start a microVM
// as launchers make them, GET /vm/config as Firecracker answers it, the
// balloon's statistics, FlushMetrics — with Firecracker's fault messages;
// metrics lines of Firecracker's shape and key order, one at boot, one every
// 60 s and one per FlushMetrics, written as Firecracker writes them to a
// non-blocking FIFO or file; and a hybrid-vsock muxer on the vsock Unix
// socket that parses CONNECT as Firecracker's does, answers "OK <port>\n"
// counting from 1<<30, and forwards to the guest's port (here over TCP into
// a QEMU guest, as this host has no vhost-vsock). It is for tests only.
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

// Sources are where a stand-in's figures come from; any may be nil.
type Sources struct {
	// Balloon gives the guest's memory as its balloon driver would report
	// it (bytes, Firecracker's names); false: the driver has not reported.
	Balloon func() (BalloonStats, bool)
	// Counters gives totals since boot of each interface and drive; the
	// metrics lines carry their deltas since the previous line.
	Counters func() Counters
}

// Counters are a VM's totals since boot; each metrics line carries their
// counts since the previous line.
type Counters struct {
	Net   map[string]NetCounters   // by iface_id
	Block map[string]BlockCounters // by drive_id
	// Groups are the totals of other counters by group and field, as the
	// line names them ("vcpu": {"exit_io_in": 12}, "signals": {...}).
	Groups map[string]map[string]uint64
}

// NetCounters are one interface's totals, from the guest's point of view
// (rx into the guest); Extra the totals of its other fields by name
// ("tx_rate_limiter_throttled").
type NetCounters struct {
	RxBytes, TxBytes, RxPackets, TxPackets uint64
	Extra                                  map[string]uint64
}

// BlockCounters are one drive's totals; Extra those of its other fields.
type BlockCounters struct {
	ReadBytes, WriteBytes, Reads, Writes uint64
	Extra                                map[string]uint64
}

// VM is a running stand-in: its API server, muxer and metrics output.
type VM struct {
	cfg     Config
	src     Sources
	started time.Time

	api     net.Listener
	muxer   *muxer
	forward map[uint32]string // Options.Forward, for a vsock configured later
	closed  chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	running bool     // InstanceStart done
	metrics *os.File // the metrics path, once opened
	lastCnt Counters // at the previous metrics line
	pending []byte   // what the line buffer held when a write failed
	drives  []*os.File
	missed  uint64                       // periodic lines that could not be written
	stored  map[string]map[string]uint64 // StoreMetrics set by Fatal or Panic
	period  time.Duration
	props   bool // Options.MetricsProperties
	mmds    mmdsState
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
	// MetricsPeriod is the period of the metrics lines Firecracker writes
	// by itself; zero means Firecracker's own, DefaultMetricsPeriod. Tests
	// shorten it to see periodic lines.
	MetricsPeriod time.Duration
	// MetricsProperties makes the stand-in the Firecracker after v1.16.1
	// whose metrics configuration takes emit_id and properties (PR #5983);
	// without it a configuration with them is refused, as v1.16.1 does.
	MetricsProperties bool
}

// Start serves the VM described by cfg until Close.
func Start(cfg Config, o Options) (*VM, error) {
	if o.MetricsPeriod <= 0 {
		o.MetricsPeriod = DefaultMetricsPeriod
	}
	v := &VM{cfg: cfg.normalized(), src: o.Sources, started: time.Now(), running: o.Running, closed: make(chan struct{}),
		period: o.MetricsPeriod, forward: o.Forward, props: o.MetricsProperties}
	if cfg.Metrics != nil {
		if msg := v.checkMetrics(*cfg.Metrics); msg != "" {
			return nil, errors.New("metrics: " + msg)
		}
	}
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
	// A metrics path given at start (--metrics-path, the config file) is
	// opened at once, as Firecracker's init_metrics does.
	if err := v.openMetrics(); err != nil {
		v.Close()
		return nil, err
	}
	if v.running {
		if err := v.boot(); err != nil {
			v.Close()
			return nil, err
		}
	}
	v.wg.Go(v.serveAPI)
	return v, nil
}

// boot is what InstanceStart (or a config file) does for metrics: the
// output opened and the periodic lines started, the first at once.
func (v *VM) boot() error {
	if err := v.openMetrics(); err != nil {
		return err
	}
	// Firecracker holds each drive's file open, read-write unless it is
	// read-only; a path that does not exist here is skipped (the stand-in
	// has no guest disk of its own).
	v.mu.Lock()
	for _, d := range v.cfg.Drives {
		if d.PathOnHost == nil || *d.PathOnHost == "" {
			continue
		}
		flag := os.O_RDWR
		if d.IsReadOnly != nil && *d.IsReadOnly {
			flag = os.O_RDONLY
		}
		if f, err := os.OpenFile(*d.PathOnHost, flag, 0); err == nil {
			v.drives = append(v.drives, f)
		}
	}
	v.mu.Unlock()
	v.wg.Go(func() { v.periodic(v.period) })
	return nil
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
	for _, f := range v.drives {
		f.Close()
	}
	v.mu.Unlock()
}

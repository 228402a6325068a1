package wire

// The host agent's JSON documents (internal/hostagent serves them, the
// manager's collector reads them). Names carry a VM prefix where the guest
// agent's documents already use the plain word (NetInterface, Disk).

// ProcessStats is the host-side view of one process, the answer of
// GET /metrics/process-stats and the process section of VMStats. The first
// six fields are those of the original integration.
type ProcessStats struct {
	PID int `json:"pid"`
	// CPUUsagePercent is the process's CPU time over the window as a share
	// of one core: a VMM with two busy vCPUs reads about 200.
	CPUUsagePercent float64 `json:"cpu_usage_percent"`
	// VCPUUsagePercent counts only threads named "fc_vcpu N"; 0 without any.
	VCPUUsagePercent float64 `json:"vcpu_usage_percent"`
	MemoryRSSKB      uint64  `json:"memory_rss_kb"`
	Threads          int     `json:"threads"`
	UptimeSeconds    int64   `json:"uptime_seconds"`

	Comm             string  `json:"comm"`
	VCPUThreads      int     `json:"vcpu_threads"`
	CPUSecondsTotal  float64 `json:"cpu_seconds_total"`
	VCPUSecondsTotal float64 `json:"vcpu_seconds_total"`
	// WindowMs is the span the percentages cover: usually the sampling
	// interval, the process's whole life for a pid asked about for the
	// first time (the percentages are then lifetime averages).
	WindowMs    int64 `json:"window_ms"`
	TimestampMs int64 `json:"timestamp_ms"` // when the reading was taken, Unix ms
}

// VMConfig is the body of POST /v1/vms: which sources the agent reads for
// one VM. Only ID is required; every other field turns one source on.
// With APISocket the agent also asks Firecracker for the VM's vsock
// socket, vCPUs and balloon, as it does for VMs it discovers.
type VMConfig struct {
	ID          string `json:"id"`
	PID         int    `json:"pid,omitempty"`          // the Firecracker process
	APISocket   string `json:"api_socket,omitempty"`   // FlushMetrics (with MetricsFIFO), and what the VM is made of
	MetricsFIFO string `json:"metrics_fifo,omitempty"` // created as a FIFO when absent
	Tap         string `json:"tap,omitempty"`          // host-side tap device
	// VsockUDS is the VM's vsock Unix socket: the guest agent is read
	// through it (learned from the API socket when absent).
	VsockUDS string `json:"vsock_uds,omitempty"`
	// GuestAddr is host:port of the guest agent over TCP, for a VM without
	// vsock; never used with VsockUDS.
	GuestAddr string `json:"guest_addr,omitempty"`
}

// VMInfo describes one VM of the host agent: an element of GET /v1/vms
// and the answer of POST /v1/vms and GET /v1/vms/{id}. The configuration
// is the effective one, what was attached merged with what discovery and
// Firecracker's API told.
type VMInfo struct {
	VMConfig
	// Discovered: found in /proc as a Firecracker process (else attached
	// by POST /v1/vms only).
	Discovered bool `json:"discovered"`
	// Firecracker's own account, from its API: instance state, version,
	// vCPUs, memory, balloon; absent until the API has answered.
	Firecracker *FirecrackerInfo `json:"firecracker,omitempty"`
	AttachedMs  int64            `json:"attached_ms"` // when first seen or attached, Unix ms
	// MetricsKind is "fifo", or "file" when Firecracker had created a
	// regular file at metrics_fifo, which the agent then tails.
	MetricsKind string `json:"metrics_kind,omitempty"`
	FIFOCreated bool   `json:"metrics_fifo_created,omitempty"` // the agent made the FIFO
	// MetricsProblem says why a discovered VM's metrics output is not
	// read: none could be found (its API never names it), or the one found
	// was refused.
	MetricsProblem string `json:"metrics_problem,omitempty"`
}

// FirecrackerInfo is what Firecracker's API says of a VM.
type FirecrackerInfo struct {
	State        string   `json:"state"`       // "Running", "Paused", "Not started"
	VMMVersion   string   `json:"vmm_version"` // such as "1.16.1"
	VCPUs        int      `json:"vcpu_count"`
	MemSizeMiB   int      `json:"mem_size_mib"`
	BalloonStats bool     `json:"balloon_stats"` // the balloon reports statistics
	Taps         []string `json:"taps,omitempty"`
	GuestCID     uint32   `json:"guest_cid,omitempty"`
}

// VMStats is the answer of GET /v1/vms/{id}/stats. A section without a
// source is absent, not zero; Errors says, per source ("process",
// "metrics_fifo", "api_socket", "tap"), why one that is configured has
// nothing to show or may be stale.
type VMStats struct {
	ID          string             `json:"id"`
	TimestampMs int64              `json:"timestamp_ms"`
	Process     *ProcessStats      `json:"process,omitempty"`
	Network     *VMNetwork         `json:"network,omitempty"`
	Block       *VMBlock           `json:"block,omitempty"`
	Firecracker *FirecrackerStatus `json:"firecracker,omitempty"`
	Tap         *TapStats          `json:"tap,omitempty"`
	// Cgroup is the VMM process's cgroup (the jailer's, one per VM).
	Cgroup *CgroupStats `json:"cgroup,omitempty"`
	// Labels are what the VM's launcher gave it (see VMSample.Labels).
	Labels map[string]string `json:"labels,omitempty"`
	Errors map[string]string `json:"errors,omitempty"`
}

// CgroupStats is a VMM's cgroup: totals since the cgroup was made, and
// over the latest window (WindowMs) the rates. Epoch counts the times its
// counters went backwards (a reused cgroup, a new VM in an old slot): the
// totals start again then, and no rate spans the jump.
type CgroupStats struct {
	Version  int    `json:"version"` // 1 or 2
	Path     string `json:"path"`
	Epoch    uint64 `json:"epoch"`
	WindowMs int64  `json:"window_ms"` // 0 until two reads

	CPUUsageSeconds  float64 `json:"cpu_usage_seconds"`
	CPUUserSeconds   float64 `json:"cpu_user_seconds"`
	CPUSystemSeconds float64 `json:"cpu_system_seconds"`
	// CPUUsagePercent is the window's CPU, percent of one core.
	CPUUsagePercent float64 `json:"cpu_usage_percent"`
	// CPUQuotaCores is quota over period (1.5: one and a half cores);
	// absent without a quota.
	CPUQuotaCores *float64 `json:"cpu_quota_cores,omitempty"`
	CPUPeriodUs   uint64   `json:"cpu_period_us,omitempty"`
	CPUPeriods    uint64   `json:"cpu_periods"`
	// CPUThrottledPeriods are the periods in which the quota ran out, and
	// CPUThrottledSeconds how long the cgroup waited; ThrottledPercent is
	// the window's share of periods throttled.
	CPUThrottledPeriods uint64  `json:"cpu_throttled_periods"`
	CPUThrottledSeconds float64 `json:"cpu_throttled_seconds"`
	ThrottledPercent    float64 `json:"throttled_percent"`

	MemoryCurrentBytes uint64  `json:"memory_current_bytes"`
	MemoryPeakBytes    *uint64 `json:"memory_peak_bytes,omitempty"`
	// MemoryLimitBytes is memory.max (v1 memory.limit_in_bytes), absent for
	// none; MemoryHighBytes memory.high (v1 the soft limit).
	MemoryLimitBytes *uint64 `json:"memory_limit_bytes,omitempty"`
	MemoryHighBytes  *uint64 `json:"memory_high_bytes,omitempty"`
	MemoryAnonBytes  uint64  `json:"memory_anon_bytes"`
	MemoryFileBytes  uint64  `json:"memory_file_bytes"`
	// The memory.events counters: over high, at max (v1 memory.failcnt),
	// OOM, OOM kills (v1 memory.oom_control's oom_kill).
	MemoryEvents CgroupMemoryEvents `json:"memory_events"`

	IO []CgroupIO `json:"io,omitempty"`

	// Pressure is the cgroup's PSI (v2 only): cpu, memory, io.
	Pressure map[string]CgroupPressure `json:"pressure,omitempty"`
}

// CgroupMemoryEvents are memory.events' counters.
type CgroupMemoryEvents struct {
	High    uint64 `json:"high"`
	Max     uint64 `json:"max"`
	OOM     uint64 `json:"oom"`
	OOMKill uint64 `json:"oom_kill"`
}

// CgroupIO is one device's I/O.
type CgroupIO struct {
	Device     string `json:"device"` // MAJ:MIN
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	ReadOps    uint64 `json:"read_ops"`
	WriteOps   uint64 `json:"write_ops"`
}

// CgroupPressure is one resource's pressure stall information: the share
// of the last 10 s some (full: all) of the cgroup's tasks stalled, and the
// total stall time.
type CgroupPressure struct {
	SomeAvg10        float64  `json:"some_avg10"`
	SomeTotalSeconds float64  `json:"some_total_seconds"`
	FullAvg10        *float64 `json:"full_avg10,omitempty"`
	FullTotalSeconds *float64 `json:"full_total_seconds,omitempty"`
}

// VMNetwork is the VM's traffic from the guest's point of view (rx = into the
// guest). Totals are sums since the VM was attached; rates cover the latest
// window and are absent until there is one.
type VMNetwork struct {
	Source         string                    `json:"source"` // "firecracker", or "tap" without a metrics FIFO
	RxBytesTotal   uint64                    `json:"rx_bytes_total"`
	TxBytesTotal   uint64                    `json:"tx_bytes_total"`
	RxPacketsTotal uint64                    `json:"rx_packets_total"`
	TxPacketsTotal uint64                    `json:"tx_packets_total"`
	RxBytesPerSec  *float64                  `json:"rx_bytes_per_sec,omitempty"`
	TxBytesPerSec  *float64                  `json:"tx_bytes_per_sec,omitempty"`
	Interfaces     map[string]VMNetInterface `json:"interfaces"` // by Firecracker iface_id, or tap name
}

// VMNetInterface is one interface's share of VMNetwork.
type VMNetInterface struct {
	RxBytesTotal   uint64   `json:"rx_bytes_total"`
	TxBytesTotal   uint64   `json:"tx_bytes_total"`
	RxPacketsTotal uint64   `json:"rx_packets_total"`
	TxPacketsTotal uint64   `json:"tx_packets_total"`
	RxBytesPerSec  *float64 `json:"rx_bytes_per_sec,omitempty"`
	TxBytesPerSec  *float64 `json:"tx_bytes_per_sec,omitempty"`
	// From Firecracker only: times its rate limiter held traffic back
	// (rx_/tx_rate_limiter_throttled), and failed reads and writes of the
	// host's tap (tap_read_fails + tap_write_fails).
	RxThrottledTotal uint64 `json:"rx_throttled_total,omitempty"`
	TxThrottledTotal uint64 `json:"tx_throttled_total,omitempty"`
	TapErrorsTotal   uint64 `json:"tap_errors_total,omitempty"`
}

// VMBlock is the VM's disk I/O from Firecracker's metrics: sums since attach,
// rates over the latest window (absent until there is one).
type VMBlock struct {
	ReadBytesTotal   uint64             `json:"read_bytes_total"`
	WriteBytesTotal  uint64             `json:"write_bytes_total"`
	ReadsTotal       uint64             `json:"reads_total"`
	WritesTotal      uint64             `json:"writes_total"`
	ReadBytesPerSec  *float64           `json:"read_bytes_per_sec,omitempty"`
	WriteBytesPerSec *float64           `json:"write_bytes_per_sec,omitempty"`
	Drives           map[string]VMDrive `json:"drives"` // by Firecracker drive_id
}

// VMDrive is one drive's share of VMBlock.
type VMDrive struct {
	ReadBytesTotal   uint64   `json:"read_bytes_total"`
	WriteBytesTotal  uint64   `json:"write_bytes_total"`
	ReadsTotal       uint64   `json:"reads_total"`
	WritesTotal      uint64   `json:"writes_total"`
	ReadBytesPerSec  *float64 `json:"read_bytes_per_sec,omitempty"`
	WriteBytesPerSec *float64 `json:"write_bytes_per_sec,omitempty"`
	// Requests held back by the drive's rate limiter
	// (rate_limiter_throttled_events) and by a full io_uring queue
	// (io_engine_throttled_events).
	ThrottledTotal       uint64 `json:"throttled_total,omitempty"`
	EngineThrottledTotal uint64 `json:"engine_throttled_total,omitempty"`
}

// FirecrackerStatus is the health of the metrics stream.
type FirecrackerStatus struct {
	LastLineMs         int64        `json:"last_line_ms"` // utc_timestamp_ms of the newest line; 0 before the first
	Lines              uint64       `json:"lines"`
	BadLines           uint64       `json:"bad_lines"` // undecodable lines and fragments, long ones included
	LongLines          uint64       `json:"long_lines"`
	MissedMetricsCount uint64       `json:"missed_metrics_count"` // lines Firecracker could not write (sum)
	RateWindowMs       int64        `json:"rate_window_ms"`       // span the rates cover; 0: no rates yet
	Flush              *FlushStatus `json:"flush,omitempty"`      // present with an api_socket
	VMM                *VMMFigures  `json:"vmm,omitempty"`        // once a line carried the VMM's groups
}

// VMMFigures are what Firecracker's lines say of the VMM itself: sums
// since attach of the vcpu and vsock groups, the vhost-user devices, and
// what it recorded as it died.
type VMMFigures struct {
	// VCPUExits are the vCPUs' exits to the VMM by kind (io_in, io_out,
	// mmio_read, mmio_write), VCPUExitMicros the time spent handling them.
	VCPUExits      map[string]uint64 `json:"vcpu_exits,omitempty"`
	VCPUExitMicros map[string]uint64 `json:"vcpu_exit_us,omitempty"`
	VCPUFailures   uint64            `json:"vcpu_failures"`
	Vsock          *VsockFigures     `json:"vsock,omitempty"`
	SigpipeTotal   uint64            `json:"sigpipe_total"`
	// Fatal is what the VMM recorded before it died: a panic, a seccomp
	// fault, a fatal signal; empty while it has recorded none. FatalField
	// is the field of its line that says so ("seccomp.num_faults").
	Fatal      string                     `json:"fatal,omitempty"`
	FatalField string                     `json:"fatal_field,omitempty"`
	VhostUser  map[string]VhostUserDevice `json:"vhost_user,omitempty"` // by name: block_<drive_id>
}

// VsockFigures are the vsock device's sums since attach.
type VsockFigures struct {
	ConnsAdded   uint64 `json:"conns_added"`
	ConnsKilled  uint64 `json:"conns_killed"`
	ConnsRemoved uint64 `json:"conns_removed"`
	RxBytesTotal uint64 `json:"rx_bytes_total"` // into the guest
	TxBytesTotal uint64 `json:"tx_bytes_total"`
	ErrorsTotal  uint64 `json:"errors_total"`
}

// VhostUserDevice is one vhost-user device: its I/O is its backend's, so
// only its setup is Firecracker's to report.
type VhostUserDevice struct {
	ActivateFails uint64 `json:"activate_fails"`
	CfgFails      uint64 `json:"cfg_fails"`
	InitMicros    uint64 `json:"init_us"`
}

// FlushStatus reports the FlushMetrics calls.
type FlushStatus struct {
	Requests      uint64 `json:"requests"`
	Failures      uint64 `json:"failures"`
	LastSuccessMs int64  `json:"last_success_ms,omitempty"`
	LastError     string `json:"last_error,omitempty"` // error of the latest call, empty when it worked
	// Lost are calls Firecracker refused because its output was full: lines
	// lost (counted in missed_metrics_count too; Firecracker does not).
	Lost uint64 `json:"lost,omitempty"`
}

// TapStats are the host tap's counters turned to the guest's point of view:
// the tap's tx is what the guest receives, so RxBytesTotal is the tap's
// tx_bytes. Counters are the kernel's, since the tap was created.
type TapStats struct {
	Device         string   `json:"device"`
	RxBytesTotal   uint64   `json:"rx_bytes_total"`
	TxBytesTotal   uint64   `json:"tx_bytes_total"`
	RxPacketsTotal uint64   `json:"rx_packets_total"`
	TxPacketsTotal uint64   `json:"tx_packets_total"`
	RxDroppedTotal uint64   `json:"rx_dropped_total"`
	TxDroppedTotal uint64   `json:"tx_dropped_total"`
	RxErrorsTotal  uint64   `json:"rx_errors_total"`
	TxErrorsTotal  uint64   `json:"tx_errors_total"`
	RxBytesPerSec  *float64 `json:"rx_bytes_per_sec,omitempty"`
	TxBytesPerSec  *float64 `json:"tx_bytes_per_sec,omitempty"`
	WindowMs       int64    `json:"window_ms,omitempty"`
}

// HostSamples is the answer of the host agent's GET /v1/samples: the
// latest figures of every VM on the host in one document, which the
// manager reads once per host per interval.
type HostSamples struct {
	Host        string     `json:"host"`         // the host agent's host name
	TimestampMs int64      `json:"timestamp_ms"` // when the document was assembled, host clock
	IntervalMs  int64      `json:"interval_ms"`  // the host agent's --interval
	VMs         []VMSample `json:"vms"`          // sorted by id
	// Exits are the discovered VMs whose Firecracker process ended in the
	// last five minutes, and how, when the kernel told (the reason of the
	// manager's vmm_exit event). Oldest first.
	Exits []VMExit `json:"exits,omitempty"`
	// Clashes are the Firecracker processes that reported the id of a VM
	// another one holds, in the last five minutes: each is watched under
	// RenamedTo (the manager's id_clash event). Oldest first.
	Clashes []IDClash `json:"clashes,omitempty"`
}

// VM is the sample of VM id, nil when the document has none.
func (h HostSamples) VM(id string) *VMSample {
	for i := range h.VMs {
		if h.VMs[i].ID == id {
			return &h.VMs[i]
		}
	}
	return nil
}

// IDClash is a process that reported a VM id another VM holds.
type IDClash struct {
	ID        string `json:"id"`         // the id it reported
	PID       int    `json:"pid"`        // its process
	HolderPID int    `json:"holder_pid"` // the process of the VM holding the id; 0 for one attached without a pid
	RenamedTo string `json:"renamed_to"` // the id it is watched under, id@pid
	AtMs      int64  `json:"at_ms"`
}

// VMExit is a VM that left because its VMM process ended.
type VMExit struct {
	ID   string `json:"id"`
	PID  int    `json:"pid"`
	AtMs int64  `json:"at_ms"`
	// Reason is "exited with code N" or "killed by SIGNAME", then what
	// the VMM recorded as it died when its last metrics line said
	// ("exited with code 150: Firecracker caught SIGSEGV and shut the VM
	// down (signals.sigsegv)"); empty when unknown (the host agent could not
	// watch the kernel's process events, and the VMM recorded nothing).
	Reason string `json:"reason,omitempty"`
	// Fatal is the VMM's own part of it alone, from its metrics line.
	Fatal string `json:"fatal,omitempty"`
	// CgroupOOMKills and CgroupMemoryLimitBytes are those of the VMM's
	// cgroup, read as it ended: how a kill by its cgroup's OOM killer is
	// told from the host's running out.
	CgroupOOMKills         *uint64 `json:"cgroup_oom_kills,omitempty"`
	CgroupMemoryLimitBytes *uint64 `json:"cgroup_memory_limit_bytes,omitempty"`
}

// VMSample is one VM in HostSamples. A part without a source is absent;
// Errors says, per part, why one that should be there is not or may be
// stale.
type VMSample struct {
	ID         string `json:"id"`
	Discovered bool   `json:"discovered"`
	// Labels are what the VM's launcher gave it: Firecracker's metrics
	// properties and the labels file beside its API socket.
	Labels map[string]string `json:"labels,omitempty"`
	// Guest is the guest agent's latest /metrics document, read over
	// vsock or TCP.
	Guest *GuestSample `json:"guest,omitempty"`
	// VCPU is the CPU of Firecracker's fc_vcpu threads as a share of the
	// VM's vCPUs: the guest's CPU as the host sees it.
	VCPU *VCPUStats `json:"vcpu,omitempty"`
	// Balloon is the guest's memory as its balloon driver reports it.
	Balloon     *BalloonStats      `json:"balloon,omitempty"`
	Process     *ProcessStats      `json:"process,omitempty"`
	Cgroup      *CgroupStats       `json:"cgroup,omitempty"`
	Network     *VMNetwork         `json:"network,omitempty"`
	Block       *VMBlock           `json:"block,omitempty"`
	Firecracker *FirecrackerStatus `json:"firecracker,omitempty"`
	Errors      map[string]string  `json:"errors,omitempty"`
}

// Guest transports.
const (
	TransportVsock = "vsock" // through Firecracker's vsock Unix socket
	TransportTCP   = "tcp"   // to an address of the guest
)

// GuestSample is the guest agent's document as the host agent last read
// it, with how and how long ago.
type GuestSample struct {
	GuestMetrics
	Transport string `json:"transport"` // TransportVsock or TransportTCP
	AgeMs     int64  `json:"age_ms"`    // since it was read
	// ClockSkewMs is the guest's clock_unix_ms minus the host's clock when
	// the document was read: negative up to the guest's interval (the
	// sample's age) when the clocks agree.
	ClockSkewMs *int64 `json:"clock_skew_ms,omitempty"`
}

// VCPUStats is the CPU of a VM's vCPU threads.
type VCPUStats struct {
	Count int `json:"count"` // the VM's vCPUs
	// UsagePercent is their CPU time over the window as a share of Count
	// vCPUs: 0 to 100, comparable with the guest's own figure.
	UsagePercent float64 `json:"usage_percent"`
	WindowMs     int64   `json:"window_ms"`
}

// BalloonStats is the guest's memory from Firecracker's balloon statistics,
// in kB like the guest agent's figures; figures the driver did not report
// are absent.
type BalloonStats struct {
	TotalKB      *uint64 `json:"total_kb,omitempty"`
	AvailableKB  *uint64 `json:"available_kb,omitempty"`
	FreeKB       *uint64 `json:"free_kb,omitempty"`
	DiskCachesKB *uint64 `json:"disk_caches_kb,omitempty"`
	SwapInKB     *uint64 `json:"swap_in_kb,omitempty"`
	SwapOutKB    *uint64 `json:"swap_out_kb,omitempty"`
	MajorFaults  *uint64 `json:"major_faults,omitempty"`
	MinorFaults  *uint64 `json:"minor_faults,omitempty"`
	OOMKills     *uint64 `json:"oom_kills,omitempty"`
	TargetMiB    uint64  `json:"target_mib"` // the balloon's size: memory taken from the guest
	ActualMiB    uint64  `json:"actual_mib"`
	AgeMs        int64   `json:"age_ms"`
}

package wire

// Sources of a CombinedSample's CPU and memory figures. CPU comes from
// the guest, else the vCPU threads, else the VMM process; memory from the
// guest, else the balloon's statistics, else the VMM process.
const (
	SourceGuest   = "guest"   // the guest agent inside the VM
	SourceVCPU    = "vcpu"    // CPU: Firecracker's fc_vcpu threads, as a share of the VM's vCPUs
	SourceBalloon = "balloon" // memory: the guest's balloon driver, through Firecracker
	SourceHost    = "host"    // the host agent's view of the VMM process
	SourceNone    = "none"    // nobody answered this round
)

// Sources of a CombinedSample's network and disk rates.
const (
	RatesFirecracker = "firecracker" // Firecracker's metrics FIFO, through the host agent
	RatesTap         = "tap"         // the host tap device's counters, through the host agent
	RatesGuest       = "guest"       // the guest agent's own interface and disk rates
)

// CombinedSample is the manager's view of one VM at one moment: the body of
// GET /v1/vms/{id}/metrics and of every WebSocket message. Source says
// where CPU and memory came from; Network and Disk name their own source
// or are absent. A figure the source cannot give is absent (nil), never
// zero-filled.
//
// With Source "host" the figures are the VMM process's: MemoryUsedKB is its
// resident set, UptimeSeconds its age, and CPUUsagePercent the vCPU
// threads' time as a share of the VM's vCPUs (0 to 100, comparable with the
// guest's figure) when the host agent saw fc_vcpu threads, else the whole
// process's time as a share of one core (can exceed 100). MemoryTotalKB,
// MemoryAvailableKB and MemoryUsagePercent are absent then.
type CombinedSample struct {
	VMID        string `json:"vm_id"`
	TimestampMs int64  `json:"timestamp_ms"` // when the manager assembled it, Unix ms
	// Source is where CPU and memory came from when they agree, else
	// where CPU came from: SourceGuest, SourceVCPU, SourceHost or
	// SourceNone. MemorySource is memory's own: SourceGuest,
	// SourceBalloon, SourceHost or SourceNone.
	Source       string `json:"source"`
	MemorySource string `json:"memory_source"`

	CPUUsagePercent    *float64 `json:"cpu_usage_percent,omitempty"`
	MemoryUsagePercent *float64 `json:"memory_usage_percent,omitempty"`
	MemoryUsedKB       *uint64  `json:"memory_used_kb,omitempty"`
	MemoryTotalKB      *uint64  `json:"memory_total_kb,omitempty"`
	MemoryAvailableKB  *uint64  `json:"memory_available_kb,omitempty"`
	UptimeSeconds      *uint64  `json:"uptime_seconds,omitempty"`

	Network *NetworkRates `json:"network,omitempty"`
	Disk    *DiskRates    `json:"disk,omitempty"`

	GuestAgent GuestAgentStatus `json:"guest_agent"`
	// Stale is true when the newest CPU and memory figures are older than
	// three poll intervals (or there never were any).
	Stale bool `json:"stale"`
	// MetricsProblem is why the VM's host agent reads no Firecracker
	// metrics lines for it (none found, a path refused, none read yet),
	// as the host agent says; absent when it reads them or has none to read.
	MetricsProblem string `json:"metrics_problem,omitempty"`

	// Checks are the figures behind the clock_skew and cross_check events
	// while the guest agent answers; absent otherwise.
	Checks *SampleChecks `json:"checks,omitempty"`
	// Cgroup is the VMM's cgroup as its host agent read it (the jailer's,
	// one per VM); absent for a VM polled directly or without one.
	Cgroup *CgroupFigures `json:"cgroup,omitempty"`
	// VCPUs is the VM's vCPUs (Firecracker's vcpu_count, else the guest's
	// CPUs); 0 when unknown.
	VCPUs int `json:"vcpus,omitempty"`
}

// CgroupFigures are a VMM's cgroup in a combined sample: throttling by
// its CPU quota and memory against its limit.
type CgroupFigures struct {
	CPUUsagePercent     float64  `json:"cpu_usage_percent"` // of one core
	ThrottledPercent    float64  `json:"throttled_percent"` // of the window's quota periods
	CPUThrottledSeconds float64  `json:"cpu_throttled_seconds"`
	CPUQuotaCores       *float64 `json:"cpu_quota_cores,omitempty"`
	MemoryCurrentBytes  uint64   `json:"memory_current_bytes"`
	MemoryPeakBytes     *uint64  `json:"memory_peak_bytes,omitempty"`
	MemoryLimitBytes    *uint64  `json:"memory_limit_bytes,omitempty"`
	// MemoryLimitHits counts the times the cgroup reached its limit
	// (memory.events max, v1 memory.failcnt); OOMKills its OOM kills.
	MemoryLimitHits uint64 `json:"memory_limit_hits"`
	MemoryHighHits  uint64 `json:"memory_high_hits"`
	OOMKills        uint64 `json:"oom_kills"`
	Epoch           uint64 `json:"epoch"`
}

// SampleChecks put the guest's own word beside independent ones.
type SampleChecks struct {
	// ClockSkewMs is the guest's wall clock minus the host agent's (or,
	// polled directly, the manager's) when the guest answered.
	ClockSkewMs *int64 `json:"clock_skew_ms,omitempty"`
	// HostCPUPercent is the VM's vCPU threads' CPU as a share of its
	// vCPUs, to compare with cpu_usage_percent.
	HostCPUPercent *float64 `json:"host_cpu_percent,omitempty"`
	// HostMemoryUsagePercent is the memory use the balloon driver
	// reports, to compare with memory_usage_percent.
	HostMemoryUsagePercent *float64 `json:"host_memory_usage_percent,omitempty"`
}

// NetworkRates is the VM's traffic from the guest's point of view (rx into
// the guest), in bytes per second, summed over its interfaces.
type NetworkRates struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
	Source        string  `json:"source"` // RatesFirecracker, RatesGuest or RatesTap
}

// DiskRates is the VM's block I/O in bytes per second, summed over its
// drives.
type DiskRates struct {
	ReadBytesPerSec  float64 `json:"read_bytes_per_sec"`
	WriteBytesPerSec float64 `json:"write_bytes_per_sec"`
	Source           string  `json:"source"` // RatesFirecracker or RatesGuest
}

// GuestAgentStatus is what the manager knows of a VM's guest agent.
type GuestAgentStatus struct {
	// Reachable is true when the latest poll of the agent succeeded; false
	// while it fails, while it is being backed off, and when the VM has no
	// guest_ip.
	Reachable bool `json:"reachable"`
	// LastError is why the latest poll failed; empty after a success or
	// before any poll.
	LastError string `json:"last_error"`
	// LastSuccessMs is when a poll last succeeded, Unix ms; 0 for never.
	LastSuccessMs int64 `json:"last_success_ms"`
}

// Package wire defines the JSON documents fcmon's programs exchange, written
// once for all of them. The guest agent encodes GuestMetrics with AppendJSON
// (it cannot afford encoding/json); everyone else decodes with encoding/json
// through the struct tags, and a test keeps the two in agreement.
package wire

// GuestMetrics is the body of the guest agent's GET /metrics. The first six
// fields are those of the original agent and always present; the rest are
// extensions that consumers may ignore.
type GuestMetrics struct {
	CPUUsagePercent    float64 `json:"cpu_usage_percent"`
	MemoryUsagePercent float64 `json:"memory_usage_percent"`
	MemoryUsedKB       uint64  `json:"memory_used_kb"`
	MemoryTotalKB      uint64  `json:"memory_total_kb"`
	MemoryAvailableKB  uint64  `json:"memory_available_kb"`
	UptimeSeconds      uint64  `json:"uptime_seconds"`

	TimestampMs  int64  `json:"timestamp_ms,omitempty"`
	IntervalMs   int64  `json:"interval_ms,omitempty"`
	BootID       string `json:"boot_id,omitempty"`
	Hostname     string `json:"hostname,omitempty"`
	Kernel       string `json:"kernel,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`
	CPUCount     int    `json:"cpu_count,omitempty"`
	// ClockUnixMs is the guest's wall clock when it sampled (the same
	// instant as TimestampMs): against the reader's clock it shows skew,
	// as after a snapshot restore whose guest clock was not corrected.
	ClockUnixMs int64 `json:"clock_unix_ms,omitempty"`
	// AgentStartedMs is when this guest agent started (guest clock): a
	// new value with the same boot_id is an agent restart.
	AgentStartedMs int64 `json:"agent_started_ms,omitempty"`
	// OOMKills counts the processes the guest kernel's OOM killer killed
	// since boot (/proc/vmstat oom_kill); absent on kernels before 4.13.
	OOMKills *uint64 `json:"oom_kills,omitempty"`
	// Restore is the guest agent's own evidence of snapshot restores.
	Restore *GuestRestore `json:"restore,omitempty"`

	CPU         *CPUBreakdown  `json:"cpu,omitempty"`
	Load        *Load          `json:"load,omitempty"`
	Memory      *MemoryDetail  `json:"memory,omitempty"`
	Network     []NetInterface `json:"network,omitempty"`
	Disks       []Disk         `json:"disks,omitempty"`
	Filesystems []Filesystem   `json:"filesystems,omitempty"`
	Pressure    *Pressure      `json:"pressure,omitempty"`
	Processes   *Processes     `json:"processes,omitempty"`

	// Errors names the sources that could not be read for this sample
	// (for example "meminfo: ..."); the figures they feed are then absent
	// or zero. Empty when everything was read.
	Errors []string `json:"errors,omitempty"`
}

// GuestRestore is what the guest agent saw of restores and clock steps
// since it started. A guest cannot tell a restore by its counters (they
// resume where the snapshot left them); it can by the VMClock device, whose
// generation counter the hypervisor changes on every restore, and by its
// wall clock stepping against its monotonic clock (the guest's clock put
// right after a restore, or set by hand).
type GuestRestore struct {
	// Detected counts the restores seen since the agent started: VMClock's
	// generation counter changed.
	Detected uint64 `json:"detected"`
	// LastMs is the guest's clock when the last one was seen; 0: none.
	LastMs int64 `json:"last_ms,omitempty"`
	// VMGeneration and ClockDisruption are the VMClock device's counters,
	// absent without the device (or, for VMGeneration, when the hypervisor
	// does not keep it).
	VMGeneration    *uint64 `json:"vm_generation,omitempty"`
	ClockDisruption *uint64 `json:"clock_disruption_marker,omitempty"`
	// ClockStepMs is how far the wall clock last moved against the
	// monotonic clock in one window, when at least a second (positive: put
	// forward); shown for 10 s after that window, so a reader that misses
	// a sample still sees it, then 0.
	ClockStepMs int64 `json:"clock_step_ms,omitempty"`
	// ClockSteps counts such steps since the agent started.
	ClockSteps uint64 `json:"clock_steps"`
}

// CPUBreakdown is each mode's share of the sampling window, in percent.
// Guest time is inside User and Nice, as the kernel counts it.
type CPUBreakdown struct {
	User    float64 `json:"user"`
	Nice    float64 `json:"nice"`
	System  float64 `json:"system"`
	Idle    float64 `json:"idle"`
	IOWait  float64 `json:"iowait"`
	IRQ     float64 `json:"irq"`
	SoftIRQ float64 `json:"softirq"`
	Steal   float64 `json:"steal"`
}

// Load is the kernel's load average.
type Load struct {
	Load1  float64 `json:"1m"`
	Load5  float64 `json:"5m"`
	Load15 float64 `json:"15m"`
}

// MemoryDetail carries /proc/meminfo figures beyond the headline ones.
type MemoryDetail struct {
	FreeKB      uint64 `json:"free_kb"`
	BuffersKB   uint64 `json:"buffers_kb"`
	CachedKB    uint64 `json:"cached_kb"`
	SwapTotalKB uint64 `json:"swap_total_kb"`
	SwapFreeKB  uint64 `json:"swap_free_kb"`
}

// NetInterface is one network interface: counters since boot and rates
// over the sampling window, from the guest's point of view.
type NetInterface struct {
	Interface     string  `json:"interface"`
	RxBytes       uint64  `json:"rx_bytes"`
	TxBytes       uint64  `json:"tx_bytes"`
	RxPackets     uint64  `json:"rx_packets"`
	TxPackets     uint64  `json:"tx_packets"`
	RxErrors      uint64  `json:"rx_errors"`
	TxErrors      uint64  `json:"tx_errors"`
	RxDropped     uint64  `json:"rx_dropped"`
	TxDropped     uint64  `json:"tx_dropped"`
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// Disk is one whole block device: counters since boot and rates over the
// sampling window.
type Disk struct {
	Device           string  `json:"device"`
	ReadBytes        uint64  `json:"read_bytes"`
	WriteBytes       uint64  `json:"write_bytes"`
	Reads            uint64  `json:"reads"`
	Writes           uint64  `json:"writes"`
	ReadBytesPerSec  float64 `json:"read_bytes_per_sec"`
	WriteBytesPerSec float64 `json:"write_bytes_per_sec"`
}

// Filesystem is one mounted, real (block- or network-backed) filesystem.
type Filesystem struct {
	MountPoint     string `json:"mountpoint"`
	FSType         string `json:"fstype"`
	TotalBytes     uint64 `json:"total_bytes"`
	UsedBytes      uint64 `json:"used_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
}

// Pressure is the kernel's pressure stall information (10 s averages, percent).
type Pressure struct {
	CPUSomeAvg10    float64 `json:"cpu_some_avg10"`
	MemorySomeAvg10 float64 `json:"memory_some_avg10"`
	MemoryFullAvg10 float64 `json:"memory_full_avg10"`
	IOSomeAvg10     float64 `json:"io_some_avg10"`
	IOFullAvg10     float64 `json:"io_full_avg10"`
}

// Processes counts processes: runnable and blocked tasks from /proc/stat,
// and all processes.
type Processes struct {
	Running uint64 `json:"running"`
	Blocked uint64 `json:"blocked"`
	Total   uint64 `json:"total"`
}

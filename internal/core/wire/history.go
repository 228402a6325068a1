package wire

// Resolutions of a History.
const (
	// ResolutionRaw: the points are the combined samples as polled (or
	// step-sized buckets of them), from the manager's in-memory window.
	ResolutionRaw = "raw"
	// Resolution1m: the points are 1-minute rollups (or step-sized buckets
	// of them), from the database plus the minutes not yet written to it.
	Resolution1m = "1m"
	// ResolutionTSDB: the points come from the Prometheus-compatible TSDB
	// of the manager's --history-url, one per step, each figure averaged
	// over the step (at least a minute) by PromQL's rate or avg_over_time.
	ResolutionTSDB = "tsdb"
)

// History is the body of GET /v1/vms/{id}/metrics/history?since=&until=&step=:
// one VM's figures over a time range, oldest first.
//
// The range is SinceMs to UntilMs (Unix ms, after defaults: until = now,
// since = until − 5 min). A point is included when the interval it covers
// overlaps the range, so the first rollup or bucket may start before SinceMs.
//
// StepMs is the width of each point: 0 for raw samples as polled (one point
// per sample, no *_max fields, no samples count), 60000 for plain 1-minute
// rollups, or the requested step when points are buckets of StepMs aligned
// to multiples of StepMs since the Unix epoch. Empty buckets are left out,
// never zero-filled.
type History struct {
	VMID       string         `json:"vm_id"`
	SinceMs    int64          `json:"since_ms"`
	UntilMs    int64          `json:"until_ms"`
	StepMs     int64          `json:"step_ms"`
	Resolution string         `json:"resolution"` // ResolutionRaw, Resolution1m or ResolutionTSDB
	Points     []HistoryPoint `json:"points"`     // ascending by TimestampMs, never null
}

// HistoryPoint is one raw sample, one minute, or one step-sized bucket of
// either.
//
// TimestampMs is the sample's time, or the start of the minute or bucket.
// Source is where CPU and memory figures came from (SourceGuest, SourceHost
// or SourceNone); for a minute or bucket the source of most of its samples,
// the guest winning ties. Samples is how many samples a minute or bucket
// holds (absent for a raw sample).
//
// Each figure is the average over the samples that had it; the matching
// *_max field is their maximum (absent for a raw sample). A figure no sample
// had is absent, never 0; samples with source "none" count in Samples but
// carry no figures. Raw figures are kept in single precision in memory, so
// they read back rounded to about seven significant digits.
type HistoryPoint struct {
	TimestampMs int64 `json:"timestamp_ms"`
	// Source is where the CPU figures come from and MemorySource where the
	// memory figures do: a point never averages two sources. A point over
	// samples of several sources keeps the guest's, else those seen from
	// the host (vcpu, balloon), else the VMM process's; SourceSamples and
	// MemorySourceSamples count the samples behind each, Samples all of
	// them.
	Source              string `json:"source,omitempty"`
	MemorySource        string `json:"memory_source,omitempty"`
	Samples             int    `json:"samples,omitempty"`
	SourceSamples       int    `json:"source_samples,omitempty"`
	MemorySourceSamples int    `json:"memory_source_samples,omitempty"`

	CPUUsagePercent      *float64 `json:"cpu_usage_percent,omitempty"`
	MemoryUsagePercent   *float64 `json:"memory_usage_percent,omitempty"`
	MemoryUsedKB         *float64 `json:"memory_used_kb,omitempty"`
	MemoryTotalKB        *float64 `json:"memory_total_kb,omitempty"`
	NetRxBytesPerSec     *float64 `json:"net_rx_bytes_per_sec,omitempty"`
	NetTxBytesPerSec     *float64 `json:"net_tx_bytes_per_sec,omitempty"`
	DiskReadBytesPerSec  *float64 `json:"disk_read_bytes_per_sec,omitempty"`
	DiskWriteBytesPerSec *float64 `json:"disk_write_bytes_per_sec,omitempty"`

	CPUUsagePercentMax      *float64 `json:"cpu_usage_percent_max,omitempty"`
	MemoryUsagePercentMax   *float64 `json:"memory_usage_percent_max,omitempty"`
	MemoryUsedKBMax         *float64 `json:"memory_used_kb_max,omitempty"`
	MemoryTotalKBMax        *float64 `json:"memory_total_kb_max,omitempty"`
	NetRxBytesPerSecMax     *float64 `json:"net_rx_bytes_per_sec_max,omitempty"`
	NetTxBytesPerSecMax     *float64 `json:"net_tx_bytes_per_sec_max,omitempty"`
	DiskReadBytesPerSecMax  *float64 `json:"disk_read_bytes_per_sec_max,omitempty"`
	DiskWriteBytesPerSecMax *float64 `json:"disk_write_bytes_per_sec_max,omitempty"`

	// The VMM's cgroup, when its host agent reads one: the share of its
	// CPU quota periods throttled, its memory in use (the maximum is the
	// peak) and its limit; and the VM's vCPUs.
	ThrottledPercent       *float64 `json:"throttled_percent,omitempty"`
	CgroupMemoryKB         *float64 `json:"cgroup_memory_kb,omitempty"`
	CgroupMemoryLimitKB    *float64 `json:"cgroup_memory_limit_kb,omitempty"`
	VCPUs                  *float64 `json:"vcpus,omitempty"`
	ThrottledPercentMax    *float64 `json:"throttled_percent_max,omitempty"`
	CgroupMemoryKBMax      *float64 `json:"cgroup_memory_kb_max,omitempty"`
	CgroupMemoryLimitKBMax *float64 `json:"cgroup_memory_limit_kb_max,omitempty"`
	VCPUsMax               *float64 `json:"vcpus_max,omitempty"`
}

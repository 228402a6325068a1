package firecracker

// The answers of Firecracker's API that fcmon reads, as Firecracker
// (v1.16) writes them. Fields fcmon does not use are left out: decoding
// ignores them, and new versions add some.

// InstanceInfo is the answer of GET /.
type InstanceInfo struct {
	ID         string `json:"id"`          // the instance id (--id; "anonymous-instance" by default)
	State      string `json:"state"`       // "Not started", "Running" or "Paused"
	VMMVersion string `json:"vmm_version"` // such as "1.16.1"
	AppName    string `json:"app_name"`    // "Firecracker"
}

// VMConfig is the answer of GET /vm/config: the configuration the VM was
// built from.
type VMConfig struct {
	MachineConfig MachineConfig      `json:"machine-config"`
	Balloon       *Balloon           `json:"balloon"`
	Vsock         *Vsock             `json:"vsock"`
	Network       []NetworkInterface `json:"network-interfaces"`
	Drives        []Drive            `json:"drives"`
	Metrics       *Metrics           `json:"metrics"`
}

// MachineConfig is the VM's size.
type MachineConfig struct {
	VCPUCount  int `json:"vcpu_count"`
	MemSizeMiB int `json:"mem_size_mib"`
}

// Balloon is the balloon device; statistics are reported when
// StatsPollingIntervalS is above 0.
type Balloon struct {
	AmountMiB             int  `json:"amount_mib"`
	DeflateOnOOM          bool `json:"deflate_on_oom"`
	StatsPollingIntervalS int  `json:"stats_polling_interval_s"`
}

// Vsock is the vsock device: the guest's CID and the host's Unix socket.
type Vsock struct {
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

// NetworkInterface is one virtio-net device and its host tap.
type NetworkInterface struct {
	IfaceID     string `json:"iface_id"`
	HostDevName string `json:"host_dev_name"`
	GuestMAC    string `json:"guest_mac,omitempty"`
}

// Drive is one block device.
type Drive struct {
	DriveID      string `json:"drive_id"`
	PathOnHost   string `json:"path_on_host"`
	IsRootDevice bool   `json:"is_root_device"`
}

// Metrics is where Firecracker writes its metrics lines.
type Metrics struct {
	MetricsPath string `json:"metrics_path"`
}

// BalloonStats is the answer of GET /balloon/statistics. The memory
// figures are bytes, present once the guest's balloon driver has reported
// (pointers: absent until then).
type BalloonStats struct {
	TargetPages     uint64  `json:"target_pages"`
	ActualPages     uint64  `json:"actual_pages"`
	TargetMiB       uint64  `json:"target_mib"`
	ActualMiB       uint64  `json:"actual_mib"`
	SwapIn          *uint64 `json:"swap_in,omitempty"`
	SwapOut         *uint64 `json:"swap_out,omitempty"`
	MajorFaults     *uint64 `json:"major_faults,omitempty"`
	MinorFaults     *uint64 `json:"minor_faults,omitempty"`
	FreeMemory      *uint64 `json:"free_memory,omitempty"`
	TotalMemory     *uint64 `json:"total_memory,omitempty"`
	AvailableMemory *uint64 `json:"available_memory,omitempty"`
	DiskCaches      *uint64 `json:"disk_caches,omitempty"`
	HugetlbAllocs   *uint64 `json:"hugetlb_allocations,omitempty"`
	HugetlbFailures *uint64 `json:"hugetlb_failures,omitempty"`
	OOMKill         *uint64 `json:"oom_kill,omitempty"`
	AllocStall      *uint64 `json:"alloc_stall,omitempty"`
	AsyncScan       *uint64 `json:"async_scan,omitempty"`
	DirectScan      *uint64 `json:"direct_scan,omitempty"`
	AsyncReclaim    *uint64 `json:"async_reclaim,omitempty"`
	DirectReclaim   *uint64 `json:"direct_reclaim,omitempty"`
}

package fcstandin

// BalloonStats is BalloonStats (src/vmm/src/devices/virtio/balloon/device.rs:152),
// the answer of GET /balloon/statistics: the memory figures are bytes, and
// the guest's figures are absent (nil) until its driver has reported them.
type BalloonStats struct {
	TargetPages        uint32  `json:"target_pages"`
	ActualPages        uint32  `json:"actual_pages"`
	TargetMiB          uint32  `json:"target_mib"`
	ActualMiB          uint32  `json:"actual_mib"`
	SwapIn             *uint64 `json:"swap_in,omitempty"`
	SwapOut            *uint64 `json:"swap_out,omitempty"`
	MajorFaults        *uint64 `json:"major_faults,omitempty"`
	MinorFaults        *uint64 `json:"minor_faults,omitempty"`
	FreeMemory         *uint64 `json:"free_memory,omitempty"`
	TotalMemory        *uint64 `json:"total_memory,omitempty"`
	AvailableMemory    *uint64 `json:"available_memory,omitempty"`
	DiskCaches         *uint64 `json:"disk_caches,omitempty"`
	HugetlbAllocations *uint64 `json:"hugetlb_allocations,omitempty"`
	HugetlbFailures    *uint64 `json:"hugetlb_failures,omitempty"`
	OOMKill            *uint64 `json:"oom_kill,omitempty"`
	AllocStall         *uint64 `json:"alloc_stall,omitempty"`
	AsyncScan          *uint64 `json:"async_scan,omitempty"`
	DirectScan         *uint64 `json:"direct_scan,omitempty"`
	AsyncReclaim       *uint64 `json:"async_reclaim,omitempty"`
	DirectReclaim      *uint64 `json:"direct_reclaim,omitempty"`
}

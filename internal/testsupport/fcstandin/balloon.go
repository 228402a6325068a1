package fcstandin

// BalloonStats is the answer of GET /balloon/statistics, with
// Firecracker's names; the memory figures are bytes, absent (nil) until
// the guest's driver has reported.
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
}

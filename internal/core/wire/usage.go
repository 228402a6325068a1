package wire

// Usage is the answer of GET /v1/usage: each VM's, or each label value's,
// usage over the whole minutes from SinceMs to UntilMs (Unix ms).
type Usage struct {
	SinceMs int64      `json:"since_ms"`
	UntilMs int64      `json:"until_ms"`
	GroupBy string     `json:"group_by"` // "vm" or "label:<key>"
	Rows    []UsageRow `json:"rows"`
}

// UsageRow is one VM's, or one label value's, usage over the range.
type UsageRow struct {
	VMID   string `json:"vm_id,omitempty"`
	VMName string `json:"vm_name,omitempty"`
	Value  string `json:"value,omitempty"` // the label's value, grouped by a label
	// Missing marks the row of the VMs without the label.
	Missing bool `json:"missing,omitempty"`

	VCPUSecondsUsed           float64 `json:"vcpu_seconds_used"`
	VCPUSecondsAllocated      float64 `json:"vcpu_seconds_allocated"`
	MemoryGiBSecondsAllocated float64 `json:"memory_gib_seconds_allocated"`
	MemoryGiBSecondsUsed      float64 `json:"memory_gib_seconds_used"`
	NetworkBytes              float64 `json:"network_bytes"`
	DiskBytes                 float64 `json:"disk_bytes"`
	// Source is where most of the CPU time came from: guest, vcpu, host
	// (several, when a group's VMs differ), none.
	Source string `json:"source"`
	// Seconds is the time the samples cover.
	Seconds float64 `json:"seconds"`
}

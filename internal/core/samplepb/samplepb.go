// Package samplepb is the dense encoding of the host agent's GET
// /v1/samples: the Protocol Buffers messages of docs/samples.proto, written
// and read with protowire rather than generated code. It carries per VM the
// figures a manager combines, not the guest agent's whole document, so a
// manager reading a hundred thousand VMs a second decodes a tenth of the
// bytes. FromWire reduces the JSON document to the same figures, so a
// manager treats both encodings alike.
package samplepb

// MediaType is what a manager puts in Accept to get this encoding, and what
// the host agent answers with in Content-Type.
const MediaType = "application/x-protobuf; proto=fcmon.v1.HostSamples"

// HostSamples is one host agent's document.
type HostSamples struct {
	Host        string
	TimestampMs int64
	IntervalMs  int64
	VMs         []VM
	Exits       []Exit
	Clashes     []Clash
}

// Clash is a process that reported a VM id another VM holds (wire.IDClash).
type Clash struct {
	ID        string
	PID       int64
	HolderPID int64
	RenamedTo string
	AtMs      int64
}

// Exit is a VM whose VMM process ended (wire.VMExit).
type Exit struct {
	ID     string
	PID    int64
	AtMs   int64
	Reason string
	// CgroupOOMKills and CgroupLimitBytes: its cgroup's, as it ended.
	CgroupOOMKills, CgroupLimitBytes *uint64
}

// MaxExits bounds the exits of one document.
const MaxExits = 10000

// VM is one VM's figures. A part is there when its Has flag is set.
type VM struct {
	ID         string
	Discovered bool

	HasGuest   bool
	Guest      Guest
	HasVCPU    bool
	VCPU       VCPU
	HasBalloon bool
	Balloon    Balloon
	HasProcess bool
	Process    Process
	HasNetwork bool
	Network    Rates
	HasBlock   bool
	Block      Rates

	Errors map[string]string // nil when there are none
	Labels map[string]string // the launcher's labels; nil when there are none

	HasCgroup bool
	Cgroup    Cgroup
}

// Cgroup is the VMM's cgroup (wire.CgroupStats, reduced).
type Cgroup struct {
	Version                              uint32
	Epoch                                uint64
	CPUUsagePercent, ThrottledPercent    float64
	CPUThrottledPeriods                  uint64
	CPUThrottledSeconds, CPUUsageSeconds float64
	CPUQuotaCores                        *float64
	MemoryCurrentBytes                   uint64
	MemoryPeakBytes, MemoryLimitBytes    *uint64
	EventsMax, EventsHigh, EventsOOMKill uint64
}

// Guest is the guest agent's figures as the host agent last read them.
type Guest struct {
	CPUUsagePercent    float64
	MemoryUsagePercent *float64
	MemoryUsedKB       uint64
	MemoryTotalKB      uint64
	MemoryAvailableKB  uint64
	UptimeSeconds      uint64
	TimestampMs        int64 // the guest's clock
	AgeMs              int64
	Transport          string
	BootID             string
	AgentVersion       string
	HasNetwork         bool
	Network            Rates // the guest's interfaces summed
	HasDisk            bool
	Disk               Rates // the guest's whole disks summed
	OOMKills           *uint64
	AgentStartedMs     int64
	ClockSkewMs        *int64 // guest clock minus the host agent's when read
	// The guest agent's evidence of restores (wire.GuestRestore).
	RestoresDetected *uint64
	VMGeneration     *uint64
	ClockStepMs      int64
}

// VCPU is the fc_vcpu threads' CPU as a share of Count vCPUs.
type VCPU struct {
	Count        uint32
	UsagePercent float64
}

// Balloon is the guest's memory from Firecracker's balloon statistics.
type Balloon struct {
	TotalKB, AvailableKB, FreeKB *uint64
	AgeMs                        int64
	OOMKills                     *uint64
}

// Process is the Firecracker process's figures.
type Process struct {
	PID              int32
	CPUUsagePercent  float64
	VCPUUsagePercent float64
	VCPUThreads      uint32
	MemoryRSSKB      uint64
	UptimeSeconds    uint64
}

// Rates are bytes per second in and out (network: rx into the guest;
// block: rx read, tx written), with their source and, for Firecracker's,
// the age of the newest line on the host agent's clock.
type Rates struct {
	Source        string
	RxBytesPerSec float64
	TxBytesPerSec float64
	AgeMs         int64
}

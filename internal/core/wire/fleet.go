package wire

// States of a VM in GET /v1/vms?state= and the fleet counts.
const (
	StateLive    = "live"    // its latest sample is fresh
	StateStale   = "stale"   // its latest sample is older than the stale threshold
	StatePending = "pending" // registered, no sample yet
	StateGone    = "gone"    // its host agent no longer reports it
)

// States lists the VM states in the order the UI shows them.
var States = []string{StateLive, StateStale, StatePending, StateGone}

// CPUSources and MemorySources list the values of a sample's source and
// memory_source, best first.
var (
	CPUSources    = []string{SourceGuest, SourceVCPU, SourceHost, SourceNone}
	MemorySources = []string{SourceGuest, SourceBalloon, SourceHost, SourceNone}
)

// VMRow is one VM of a GET /v1/vms page: the VM with its state and its
// latest sample (absent before the first).
type VMRow struct {
	VM
	State  string          `json:"state"`
	Latest *CombinedSample `json:"latest,omitempty"`
}

// VMPage is the answer of GET /v1/vms with any query parameter: one page
// of the VMs that match, and how many match in all.
type VMPage struct {
	VMs    []VMRow `json:"vms"`
	Total  int     `json:"total"`
	Offset int     `json:"offset"`
	Limit  int     `json:"limit"`
	// MissingManagers names the managers sharing the database that did
	// not answer: their VMs are missing from the page and the total.
	MissingManagers []string `json:"missing_managers,omitempty"`
}

// Fleet is the answer of GET /v1/fleet and the "fleet" message of the
// fleet stream: what an operator of many VMs looks at first.
type Fleet struct {
	Kind        string `json:"kind,omitempty"` // "fleet" on the WebSocket stream
	GeneratedMs int64  `json:"generated_ms"`
	VMs         int    `json:"vms"`
	// ByState counts VMs by state (every state of States is present);
	// BySource by their latest sample's CPU source and ByMemorySource by
	// its memory source (SourceNone: no sample, or a gone VM).
	ByState        map[string]int `json:"by_state"`
	BySource       map[string]int `json:"by_source"`
	ByMemorySource map[string]int `json:"by_memory_source"`
	// Top lists the live VMs with the highest CPU, memory, network (rx+tx)
	// and disk (read+write) figures, at most FleetTop each, highest first.
	Top FleetTop `json:"top"`
	// Hosts are the host agents with the VMs each reports, those not
	// answering first, then by VM count; at most FleetHosts of them
	// (HostsTotal says how many there are).
	Hosts      []FleetHost `json:"hosts"`
	HostsTotal int         `json:"hosts_total"`
	// Direct counts the VMs the manager polls itself (no host agent).
	Direct int `json:"direct"`
	// MissingManagers names the managers sharing the database that did
	// not answer: their VMs are missing from the counts and lists.
	MissingManagers []string `json:"missing_managers,omitempty"`
	// GroupBy is the label of ?group_by=, and Groups the VMs by its value
	// (the VMs without the label under Value "", Missing set), most VMs
	// first; absent without group_by.
	GroupBy string       `json:"group_by,omitempty"`
	Groups  []FleetGroup `json:"groups,omitempty"`
}

// FleetGroup is the VMs whose label GroupBy has one value.
type FleetGroup struct {
	Value   string `json:"value"`
	Missing bool   `json:"missing,omitempty"` // the VMs without the label
	VMs     int    `json:"vms"`
	Live    int    `json:"live"`
	// CPUPercentSum is the sum of the live VMs' CPU figures (each 0–100
	// of its own vCPUs), MemoryUsedKBSum of their memory in use.
	CPUPercentSum   float64 `json:"cpu_percent_sum"`
	MemoryUsedKBSum float64 `json:"memory_used_kb_sum"`
}

// Sizes of the lists in a Fleet.
const (
	FleetTopN  = 10
	FleetHosts = 50
)

// FleetTop holds the top VMs by each figure.
type FleetTop struct {
	CPU     []FleetVM `json:"cpu"`
	Memory  []FleetVM `json:"memory"`
	Network []FleetVM `json:"network"`
	Disk    []FleetVM `json:"disk"`
}

// FleetVM is one VM in a top list: Value is CPU %, memory %, or bytes/s
// for network and disk; Source the figure's source.
type FleetVM struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	HostID string  `json:"host_id,omitempty"`
	Value  float64 `json:"value"`
	Source string  `json:"source"`
}

// FleetHost is a host agent in the fleet view.
type FleetHost struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	LastError string `json:"last_error,omitempty"`
	VMs       int    `json:"vms"`  // in the registry, not gone
	Live      int    `json:"live"` // of those, with a fresh sample
}

// WatchRequest is what a client of the fleet stream sends to choose the
// VMs whose samples it receives (the ones on its screen); each request
// replaces the previous set. At most MaxWatch ids.
type WatchRequest struct {
	Watch []string `json:"watch"`
}

// MaxWatch bounds a WatchRequest.
const MaxWatch = 1000

// SDTargetGroup is one entry of GET /v1/prometheus/sd, Prometheus's HTTP
// service discovery format.
type SDTargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Cluster is GET /v1/cluster: the managers sharing this database, each
// with the host agents it collects (holds a live lease on). Self is the
// answering manager's id.
type Cluster struct {
	Self    string          `json:"self"`
	Members []ClusterMember `json:"members"`
}

// ClusterMember is one manager of a Cluster.
type ClusterMember struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	URL         string   `json:"url,omitempty"`
	StartedMs   int64    `json:"started_ms"`
	HeartbeatMs int64    `json:"heartbeat_ms"`
	Hosts       []string `json:"hosts"`
}

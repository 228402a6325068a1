package wire

import "reflect"

// The manager's REST documents: a VM in its registry and the requests that
// register it and set its guest agent's address.

// DefaultGuestPort is the guest agent's port: where it listens by default
// (TCP and vsock) and what the manager assumes when a VM names none.
const DefaultGuestPort = 8080

// Default ports of the host agent and the manager.
const (
	DefaultHostAgentPort = 9091
	DefaultManagerPort   = 8080
)

// CreateVMRequest is the body of POST /v1/vms. Only Name is required; an
// absent ID is generated, an absent GuestPort is DefaultGuestPort.
type CreateVMRequest struct {
	ID           *string `json:"id"`
	Name         string  `json:"name"`
	GuestIP      string  `json:"guest_ip"`
	GuestPort    *int    `json:"guest_port"`
	HostAgentURL string  `json:"host_agent_url"`
	VMMPID       int     `json:"vmm_pid"`
	MetricsFIFO  string  `json:"metrics_fifo"`
	APISocket    string  `json:"api_socket"`
	// Labels are the VM's labels (the rules: docs/labels.md).
	Labels map[string]string `json:"labels"`
}

// PatchVMRequest is the body of PATCH /v1/vms/{id}: the labels set
// through the API, replaced whole ({} removes them all).
type PatchVMRequest struct {
	Labels *map[string]string `json:"labels"`
}

// GuestIPRequest is the body of POST /v1/vms/{id}/guest-ip, which a guest
// agent sends to register itself; an absent GuestPort keeps the VM's port.
type GuestIPRequest struct {
	GuestIP   string `json:"guest_ip"`
	GuestPort *int   `json:"guest_port,omitempty"`
}

// AppendJSON appends r as encoding/json writes it: the guest agent, which
// cannot afford encoding/json, sends it so.
func (r *GuestIPRequest) AppendJSON(b []byte) []byte {
	return appendValue(b, reflect.ValueOf(r).Elem())
}

// VM is a registered VM as GET /v1/vms and GET /v1/vms/{id} show it: what
// was registered, then its latest status. Optional fields are absent when
// not set.
type VM struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	GuestIP      string `json:"guest_ip,omitempty"`
	GuestPort    int    `json:"guest_port"`
	HostAgentURL string `json:"host_agent_url,omitempty"`
	VMMPID       int    `json:"vmm_pid,omitempty"`
	MetricsFIFO  string `json:"metrics_fifo,omitempty"`
	APISocket    string `json:"api_socket,omitempty"`
	CreatedMs    int64  `json:"created_ms"`
	UpdatedMs    int64  `json:"updated_ms"`
	// HostID is the host agent that reports the VM (GET /v1/hosts) and
	// HostVMID its id there (Firecracker's --id); absent for a VM
	// registered by hand. GoneMs is when that host agent stopped reporting
	// it: the VM is kept, with its history, until --history-retention.
	HostID   string `json:"host_id,omitempty"`
	HostVMID string `json:"host_vm_id,omitempty"`
	GoneMs   int64  `json:"gone_ms,omitempty"`
	// Labels are the VM's labels: those its host agent reports
	// (LauncherLabels) with those set through the API over them.
	Labels         map[string]string `json:"labels,omitempty"`
	LauncherLabels map[string]string `json:"launcher_labels,omitempty"`

	// Source and MemorySource are those of the latest sample (see
	// CombinedSample); SourceNone before the first.
	Source       string `json:"source"`
	MemorySource string `json:"memory_source"`
	// LastSampleMs is when the latest sample was taken, Unix ms; 0 before
	// the first.
	LastSampleMs int64            `json:"last_sample_ms"`
	Stale        bool             `json:"stale"`
	GuestAgent   GuestAgentStatus `json:"guest_agent"`
	// MetricsProblem is that of the latest sample: why no Firecracker
	// metrics lines are read for the VM (its network and disk figures then
	// come from the tap or the guest).
	MetricsProblem string `json:"metrics_problem,omitempty"`

	// HostAgent reports the attach at the host agent; only in the answer
	// of POST /v1/vms for a VM with a host_agent_url.
	HostAgent *AttachResult `json:"host_agent,omitempty"`
}

// CreateHostRequest is the body of POST /v1/hosts.
type CreateHostRequest struct {
	URL string `json:"url"`
}

// Host is a host agent the manager collects from, as GET /v1/hosts shows
// it: what was registered, then how collecting it goes.
type Host struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	Name      string `json:"name"` // the host name it reports; "" until it answered
	CreatedMs int64  `json:"created_ms"`

	// Reachable: the latest GET /v1/samples succeeded.
	Reachable     bool    `json:"reachable"`
	VMs           int     `json:"vms"`                // in its latest answer
	Encoding      string  `json:"encoding,omitempty"` // of the latest answer: "protobuf" or "json"
	LastSuccessMs int64   `json:"last_success_ms"`    // 0: never
	LastError     string  `json:"last_error"`         // of the latest failure, a class ("refused", "timeout", "http 401", ...)
	LastErrorMs   int64   `json:"last_error_ms"`
	LatencyMs     float64 `json:"latency_ms"` // of the latest successful request
	// SkippedVMs are the VMs of its latest answer left out for a bad id
	// (empty, not UTF-8, a control character), SkippedReason the first's
	// fault; UnregisteredVMs those not registered yet because a limit
	// (--host-new-vms-per-minute, --max-vms) holds them back, tried again
	// each poll.
	SkippedVMs      int    `json:"skipped_vms,omitempty"`
	SkippedReason   string `json:"skipped_reason,omitempty"`
	UnregisteredVMs int    `json:"unregistered_vms,omitempty"`
}

// AttachResult reports attaching a VM to its host agent.
type AttachResult struct {
	Attached bool `json:"attached"`
	// Error is why not, as a class only ("refused", "timeout", "http 403",
	// "not_allowed", ...): the host agent's own answer is never passed on.
	Error string `json:"error,omitempty"`
}

package wire

// Event types: what the manager saw happen to a VM.
const (
	// EventRestore: the guest's counters went backwards with the same
	// boot_id (uptime fell): a snapshot restore, or a clone of one.
	EventRestore = "restore"
	// EventReboot: the guest reports a new boot_id.
	EventReboot = "reboot"
	// EventOOMKill: the guest kernel's OOM killer killed processes (its
	// oom_kill count rose), or the balloon driver reported OOM kills.
	EventOOMKill = "oom_kill"
	// EventVMMExit: the VM's Firecracker process exited (its host agent
	// stopped reporting it), with the reason when the host agent can tell.
	EventVMMExit = "vmm_exit"
	// EventSourceChange: the source of CPU or memory changed (the guest
	// agent stopped answering, or answers again).
	EventSourceChange = "source_change"
	// EventAgentRestart: the guest agent restarted (a new agent start time
	// within the same boot).
	EventAgentRestart = "agent_restart"
	// EventClockSkew: the guest's wall clock differs from the host's by
	// more than the threshold (it is reported once, when it starts).
	EventClockSkew = "clock_skew"
	// EventCrossCheck: the guest's own figures and the host's view of them
	// (the vCPU threads' CPU, the balloon's memory) disagreed for a
	// sustained time: a frozen or misreporting agent, or heavy steal.
	EventCrossCheck = "cross_check"
	// EventIDClash: another Firecracker process on the VM's host reported
	// the VM's id; the host agent watches it under id@pid instead (a
	// misconfigured launcher, or a process trying to pass as the VM).
	EventIDClash = "id_clash"
)

// EventTypes lists every event type.
var EventTypes = []string{EventRestore, EventReboot, EventOOMKill, EventVMMExit, EventSourceChange,
	EventAgentRestart, EventClockSkew, EventCrossCheck, EventIDClash, EventCPUThrottled, EventMemoryLimit}

// Events of a VMM's cgroup.
const (
	// EventCPUThrottled: the VMM's cgroup was throttled by its CPU quota
	// in a sustained share of its periods; one event an episode.
	EventCPUThrottled = "cpu_throttled"
	// EventMemoryLimit: the VMM's cgroup reached its memory limit (or
	// memory.high): the warning before the kill.
	EventMemoryLimit = "memory_limit"
)

// Event is one thing that happened to a VM: an element of GET /v1/events
// and, with Kind "event", a message on the WebSocket streams.
type Event struct {
	Kind        string            `json:"kind,omitempty"` // "event" on the WebSocket streams, where samples come too
	ID          int64             `json:"id,omitempty"`   // its number in the store; 0 before it is stored
	VMID        string            `json:"vm_id"`
	Type        string            `json:"type"`
	TimestampMs int64             `json:"timestamp_ms"`
	Message     string            `json:"message"`          // for a person
	Detail      map[string]string `json:"detail,omitempty"` // the figures behind it, by name
}

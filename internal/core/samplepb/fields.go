package samplepb

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers, as docs/samples.proto has them (a test holds them equal).
const (
	hostHost, hostTimestampMs, hostIntervalMs, hostVMs, hostExits, hostClashes protowire.Number = 1, 2, 3, 4, 5, 6

	exitID, exitPID, exitAtMs, exitReason, exitOOMKills, exitLimit protowire.Number = 1, 2, 3, 4, 5, 6

	clashID, clashPID, clashHolderPID, clashRenamedTo, clashAtMs protowire.Number = 1, 2, 3, 4, 5

	vmID, vmDiscovered, vmGuest, vmVCPU, vmBalloon, vmProcess, vmNetwork, vmBlock, vmErrors, vmLabels, vmCgroup protowire.Number = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

	cgVersion, cgEpoch, cgCPU, cgThrottledPct, cgThrottledPeriods, cgThrottledSec, cgQuota protowire.Number = 1, 2, 3, 4, 5, 6, 7
	cgMem, cgPeak, cgLimit, cgEvMax, cgEvHigh, cgEvOOMKill, cgCPUSeconds                   protowire.Number = 8, 9, 10, 11, 12, 13, 14

	guestCPU, guestMemPct, guestMemUsed, guestMemTotal, guestMemAvail, guestUptime protowire.Number = 1, 2, 3, 4, 5, 6
	guestTimestampMs, guestAgeMs, guestTransport, guestBootID, guestAgentVersion   protowire.Number = 7, 8, 9, 10, 11
	guestNetwork, guestDisk                                                        protowire.Number = 12, 13
	guestOOMKills, guestAgentStarted, guestClockSkew                               protowire.Number = 14, 15, 16
	guestRestores, guestVMGeneration, guestClockStep                               protowire.Number = 17, 18, 19

	vcpuCount, vcpuUsage protowire.Number = 1, 2

	balloonTotal, balloonAvail, balloonFree, balloonAgeMs, balloonOOMKills protowire.Number = 1, 2, 3, 4, 5

	procPID, procCPU, procVCPU, procVCPUThreads, procRSS, procUptime protowire.Number = 1, 2, 3, 4, 5, 6

	ratesSource, ratesRx, ratesTx, ratesAgeMs protowire.Number = 1, 2, 3, 4

	mapKey, mapValue protowire.Number = 1, 2
)

// schema names every field by message, for the test against the .proto.
var schema = map[string]map[string]protowire.Number{
	"HostSamples": {"host": hostHost, "timestamp_ms": hostTimestampMs, "interval_ms": hostIntervalMs, "vms": hostVMs, "exits": hostExits, "clashes": hostClashes},
	"Exit":        {"id": exitID, "pid": exitPID, "at_ms": exitAtMs, "reason": exitReason, "cgroup_oom_kills": exitOOMKills, "cgroup_memory_limit_bytes": exitLimit},
	"Clash":       {"id": clashID, "pid": clashPID, "holder_pid": clashHolderPID, "renamed_to": clashRenamedTo, "at_ms": clashAtMs},
	"VM": {"id": vmID, "discovered": vmDiscovered, "guest": vmGuest, "vcpu": vmVCPU, "balloon": vmBalloon,
		"process": vmProcess, "network": vmNetwork, "block": vmBlock, "errors": vmErrors, "labels": vmLabels, "cgroup": vmCgroup},
	"Cgroup": {"version": cgVersion, "epoch": cgEpoch, "cpu_usage_percent": cgCPU, "throttled_percent": cgThrottledPct,
		"cpu_throttled_periods": cgThrottledPeriods, "cpu_throttled_seconds": cgThrottledSec, "cpu_quota_cores": cgQuota,
		"memory_current_bytes": cgMem, "memory_peak_bytes": cgPeak, "memory_limit_bytes": cgLimit, "memory_events_max": cgEvMax,
		"memory_events_high": cgEvHigh, "memory_events_oom_kill": cgEvOOMKill, "cpu_usage_seconds": cgCPUSeconds},
	"Guest": {"cpu_usage_percent": guestCPU, "memory_usage_percent": guestMemPct, "memory_used_kb": guestMemUsed,
		"memory_total_kb": guestMemTotal, "memory_available_kb": guestMemAvail, "uptime_seconds": guestUptime,
		"timestamp_ms": guestTimestampMs, "age_ms": guestAgeMs, "transport": guestTransport, "boot_id": guestBootID,
		"agent_version": guestAgentVersion, "network": guestNetwork, "disk": guestDisk,
		"oom_kills": guestOOMKills, "agent_started_ms": guestAgentStarted, "clock_skew_ms": guestClockSkew,
		"restores_detected": guestRestores, "vm_generation": guestVMGeneration, "clock_step_ms": guestClockStep},
	"VCPU":    {"count": vcpuCount, "usage_percent": vcpuUsage},
	"Balloon": {"total_kb": balloonTotal, "available_kb": balloonAvail, "free_kb": balloonFree, "age_ms": balloonAgeMs, "oom_kills": balloonOOMKills},
	"Process": {"pid": procPID, "cpu_usage_percent": procCPU, "vcpu_usage_percent": procVCPU, "vcpu_threads": procVCPUThreads,
		"memory_rss_kb": procRSS, "uptime_seconds": procUptime},
	"Rates": {"source": ratesSource, "rx_bytes_per_sec": ratesRx, "tx_bytes_per_sec": ratesTx, "age_ms": ratesAgeMs},
}

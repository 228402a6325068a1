package samplepb

import (
	"encoding/binary"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Append appends h in the Protocol Buffers wire format to b. Scalars at
// their zero value are left out, as proto3 does; optional ones (pointers)
// are written whenever set.
func Append(b []byte, h *HostSamples) []byte {
	b = appendString(b, hostHost, h.Host)
	b = appendInt(b, hostTimestampMs, h.TimestampMs)
	b = appendInt(b, hostIntervalMs, h.IntervalMs)
	for i := range h.VMs {
		b = appendMessage(b, hostVMs, func(b []byte) []byte { return appendVM(b, &h.VMs[i]) })
	}
	for i := range h.Exits {
		e := &h.Exits[i]
		b = appendMessage(b, hostExits, func(b []byte) []byte {
			b = appendString(b, exitID, e.ID)
			b = appendInt(b, exitPID, e.PID)
			b = appendInt(b, exitAtMs, e.AtMs)
			b = appendString(b, exitReason, e.Reason)
			b = appendOptUint(b, exitOOMKills, e.CgroupOOMKills)
			return appendOptUint(b, exitLimit, e.CgroupLimitBytes)
		})
	}
	for i := range h.Clashes {
		c := &h.Clashes[i]
		b = appendMessage(b, hostClashes, func(b []byte) []byte {
			b = appendString(b, clashID, c.ID)
			b = appendInt(b, clashPID, c.PID)
			b = appendInt(b, clashHolderPID, c.HolderPID)
			b = appendString(b, clashRenamedTo, c.RenamedTo)
			return appendInt(b, clashAtMs, c.AtMs)
		})
	}
	return b
}

func appendVM(b []byte, v *VM) []byte {
	b = appendString(b, vmID, v.ID)
	if v.Discovered {
		b = appendUint(b, vmDiscovered, 1)
	}
	if v.HasGuest {
		b = appendMessage(b, vmGuest, func(b []byte) []byte { return appendGuest(b, &v.Guest) })
	}
	if v.HasVCPU {
		b = appendMessage(b, vmVCPU, func(b []byte) []byte {
			b = appendUint(b, vcpuCount, uint64(v.VCPU.Count))
			return appendDouble(b, vcpuUsage, v.VCPU.UsagePercent)
		})
	}
	if v.HasBalloon {
		b = appendMessage(b, vmBalloon, func(b []byte) []byte { return appendBalloon(b, &v.Balloon) })
	}
	if v.HasProcess {
		b = appendMessage(b, vmProcess, func(b []byte) []byte { return appendProcess(b, &v.Process) })
	}
	if v.HasNetwork {
		b = appendMessage(b, vmNetwork, func(b []byte) []byte { return appendRates(b, &v.Network) })
	}
	if v.HasBlock {
		b = appendMessage(b, vmBlock, func(b []byte) []byte { return appendRates(b, &v.Block) })
	}
	b = appendMap(b, vmErrors, v.Errors)
	b = appendMap(b, vmLabels, v.Labels)
	if v.HasCgroup {
		b = appendMessage(b, vmCgroup, func(b []byte) []byte { return appendCgroup(b, &v.Cgroup) })
	}
	return b
}

func appendCgroup(b []byte, c *Cgroup) []byte {
	b = appendUint(b, cgVersion, uint64(c.Version))
	b = appendUint(b, cgEpoch, c.Epoch)
	b = appendDouble(b, cgCPU, c.CPUUsagePercent)
	b = appendDouble(b, cgThrottledPct, c.ThrottledPercent)
	b = appendUint(b, cgThrottledPeriods, c.CPUThrottledPeriods)
	b = appendDouble(b, cgThrottledSec, c.CPUThrottledSeconds)
	if c.CPUQuotaCores != nil {
		b = protowire.AppendTag(b, cgQuota, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(*c.CPUQuotaCores))
	}
	b = appendUint(b, cgMem, c.MemoryCurrentBytes)
	b = appendOptUint(b, cgPeak, c.MemoryPeakBytes)
	b = appendOptUint(b, cgLimit, c.MemoryLimitBytes)
	b = appendUint(b, cgEvMax, c.EventsMax)
	b = appendUint(b, cgEvHigh, c.EventsHigh)
	b = appendUint(b, cgEvOOMKill, c.EventsOOMKill)
	return appendDouble(b, cgCPUSeconds, c.CPUUsageSeconds)
}

// appendMap appends a map<string, string> field, keys in order: the same
// document encodes to the same bytes.
func appendMap(b []byte, n protowire.Number, m map[string]string) []byte {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendMessage(b, n, func(b []byte) []byte {
			b = appendString(b, mapKey, k)
			return appendString(b, mapValue, m[k])
		})
	}
	return b
}

func appendGuest(b []byte, g *Guest) []byte {
	b = appendDouble(b, guestCPU, g.CPUUsagePercent)
	if g.MemoryUsagePercent != nil {
		b = protowire.AppendTag(b, guestMemPct, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(*g.MemoryUsagePercent))
	}
	b = appendUint(b, guestMemUsed, g.MemoryUsedKB)
	b = appendUint(b, guestMemTotal, g.MemoryTotalKB)
	b = appendUint(b, guestMemAvail, g.MemoryAvailableKB)
	b = appendUint(b, guestUptime, g.UptimeSeconds)
	b = appendInt(b, guestTimestampMs, g.TimestampMs)
	b = appendInt(b, guestAgeMs, g.AgeMs)
	b = appendString(b, guestTransport, g.Transport)
	b = appendString(b, guestBootID, g.BootID)
	b = appendString(b, guestAgentVersion, g.AgentVersion)
	if g.HasNetwork {
		b = appendMessage(b, guestNetwork, func(b []byte) []byte { return appendRates(b, &g.Network) })
	}
	if g.HasDisk {
		b = appendMessage(b, guestDisk, func(b []byte) []byte { return appendRates(b, &g.Disk) })
	}
	b = appendOptUint(b, guestOOMKills, g.OOMKills)
	b = appendInt(b, guestAgentStarted, g.AgentStartedMs)
	if g.ClockSkewMs != nil {
		b = protowire.AppendTag(b, guestClockSkew, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(*g.ClockSkewMs))
	}
	b = appendOptUint(b, guestRestores, g.RestoresDetected)
	b = appendOptUint(b, guestVMGeneration, g.VMGeneration)
	return appendInt(b, guestClockStep, g.ClockStepMs)
}

func appendBalloon(b []byte, x *Balloon) []byte {
	b = appendOptUint(b, balloonTotal, x.TotalKB)
	b = appendOptUint(b, balloonAvail, x.AvailableKB)
	b = appendOptUint(b, balloonFree, x.FreeKB)
	b = appendInt(b, balloonAgeMs, x.AgeMs)
	return appendOptUint(b, balloonOOMKills, x.OOMKills)
}

func appendProcess(b []byte, p *Process) []byte {
	b = appendInt(b, procPID, int64(p.PID))
	b = appendDouble(b, procCPU, p.CPUUsagePercent)
	b = appendDouble(b, procVCPU, p.VCPUUsagePercent)
	b = appendUint(b, procVCPUThreads, uint64(p.VCPUThreads))
	b = appendUint(b, procRSS, p.MemoryRSSKB)
	return appendUint(b, procUptime, p.UptimeSeconds)
}

func appendRates(b []byte, r *Rates) []byte {
	b = appendString(b, ratesSource, r.Source)
	b = appendDouble(b, ratesRx, r.RxBytesPerSec)
	b = appendDouble(b, ratesTx, r.TxBytesPerSec)
	return appendInt(b, ratesAgeMs, r.AgeMs)
}

// appendMessage writes a length-delimited submessage. Its length is not
// known before it is written, so a one-byte length is assumed and the
// bytes are shifted in the rare case the message is 128 bytes or longer.
func appendMessage(b []byte, n protowire.Number, fill func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	at := len(b)
	b = append(b, 0)
	b = fill(b)
	size := len(b) - at - 1
	if size < 0x80 {
		b[at] = byte(size)
		return b
	}
	var lenBuf [binary.MaxVarintLen64]byte
	l := protowire.AppendVarint(lenBuf[:0], uint64(size))
	b = append(b, l[1:]...) // room for the longer length
	copy(b[at+len(l):], b[at+1:at+1+size])
	copy(b[at:], l)
	return b
}

func appendString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendUint(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendOptUint(b []byte, n protowire.Number, v *uint64) []byte {
	if v == nil {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, *v)
}

func appendInt(b []byte, n protowire.Number, v int64) []byte {
	return appendUint(b, n, uint64(v)) // int64 is two's complement on the wire
}

func appendDouble(b []byte, n protowire.Number, v float64) []byte {
	if v == 0 && !math.Signbit(v) {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

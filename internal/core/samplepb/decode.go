package samplepb

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBad is wrapped by every error Decode returns.
var ErrBad = errors.New("not a fcmon.v1.HostSamples message")

// Limits of a document a Decoder accepts, far beyond a real host's.
const (
	MaxVMs       = 100_000
	maxStringLen = 4096
	maxErrors    = 32
	maxLabels    = 32 // labels.MaxLabels
)

// Decoder decodes documents, reusing what it can between them: the VMs
// slice of the destination, and the strings that repeat from one interval
// to the next (ids, boot ids, versions, sources), which it interns. It is
// not safe for concurrent use.
type Decoder struct {
	strs map[string]string
	gen  int // documents decoded since the intern table was emptied
}

// Decode decodes data into h, replacing its contents but keeping the
// capacity of h.VMs. Unknown fields are skipped, as protobuf readers do,
// so a newer host agent may add some; a malformed field, a wrong wire type,
// a string that is not UTF-8 or a document past the limits gives an error
// wrapping ErrBad, and h is then left in an unspecified state.
func (d *Decoder) Decode(data []byte, h *HostSamples) error {
	if d.strs == nil || d.gen > 1000 || len(d.strs) > 4*MaxVMs {
		d.strs, d.gen = make(map[string]string), 0 // bounded, even if strings keep changing
	}
	d.gen++
	*h = HostSamples{VMs: h.VMs[:0], Exits: h.Exits[:0], Clashes: h.Clashes[:0]}
	err := fields(data, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch n {
		case hostHost:
			return d.str(t, v, &h.Host)
		case hostTimestampMs:
			return asInt(t, x, &h.TimestampMs)
		case hostIntervalMs:
			return asInt(t, x, &h.IntervalMs)
		case hostVMs:
			if t != protowire.BytesType {
				return errType
			}
			if len(h.VMs) >= MaxVMs {
				return fmt.Errorf("over %d VMs", MaxVMs)
			}
			h.VMs = append(h.VMs, VM{})
			return d.vm(v, &h.VMs[len(h.VMs)-1])
		case hostExits:
			if t != protowire.BytesType {
				return errType
			}
			if len(h.Exits) >= MaxExits {
				return fmt.Errorf("over %d exits", MaxExits)
			}
			h.Exits = append(h.Exits, Exit{})
			return d.exit(v, &h.Exits[len(h.Exits)-1])
		case hostClashes:
			if t != protowire.BytesType {
				return errType
			}
			if len(h.Clashes) >= MaxExits {
				return fmt.Errorf("over %d clashes", MaxExits)
			}
			h.Clashes = append(h.Clashes, Clash{})
			return d.clash(v, &h.Clashes[len(h.Clashes)-1])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBad, err)
	}
	return nil
}

var errType = errors.New("wrong wire type")

// fields calls fn for every field of a message: v holds a length-delimited
// field's bytes, x a varint's or fixed field's value.
func fields(data []byte, fn func(n protowire.Number, t protowire.Type, v []byte, x uint64) error) error {
	for len(data) > 0 {
		n, t, l := protowire.ConsumeTag(data)
		if l < 0 {
			return protowire.ParseError(l)
		}
		data = data[l:]
		var v []byte
		var x uint64
		switch t {
		case protowire.VarintType:
			x, l = protowire.ConsumeVarint(data)
		case protowire.Fixed64Type:
			x, l = protowire.ConsumeFixed64(data)
		case protowire.Fixed32Type:
			var y uint32
			y, l = protowire.ConsumeFixed32(data)
			x = uint64(y)
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(data)
		default:
			l = protowire.ConsumeFieldValue(n, t, data)
		}
		if l < 0 {
			return fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
		}
		data = data[l:]
		if err := fn(n, t, v, x); err != nil {
			return fmt.Errorf("field %d: %w", n, err)
		}
	}
	return nil
}

func (d *Decoder) vm(data []byte, v *VM) error {
	return fields(data, func(n protowire.Number, t protowire.Type, b []byte, x uint64) error {
		switch n {
		case vmID:
			return d.str(t, b, &v.ID)
		case vmDiscovered:
			return asBool(t, x, &v.Discovered)
		case vmGuest:
			v.HasGuest = true
			return d.sub(t, b, func() error { return d.guest(b, &v.Guest) })
		case vmVCPU:
			v.HasVCPU = true
			return d.sub(t, b, func() error { return vcpu(b, &v.VCPU) })
		case vmBalloon:
			v.HasBalloon = true
			return d.sub(t, b, func() error { return balloon(b, &v.Balloon) })
		case vmProcess:
			v.HasProcess = true
			return d.sub(t, b, func() error { return process(b, &v.Process) })
		case vmNetwork:
			v.HasNetwork = true
			return d.sub(t, b, func() error { return d.rates(b, &v.Network) })
		case vmBlock:
			v.HasBlock = true
			return d.sub(t, b, func() error { return d.rates(b, &v.Block) })
		case vmErrors:
			return d.sub(t, b, func() error { return d.mapEntry(b, &v.Errors, maxErrors, "errors") })
		case vmLabels:
			return d.sub(t, b, func() error { return d.mapEntry(b, &v.Labels, maxLabels, "labels") })
		case vmCgroup:
			v.HasCgroup = true
			return d.sub(t, b, func() error { return cgroup(b, &v.Cgroup) })
		}
		return nil
	})
}

func (d *Decoder) sub(t protowire.Type, _ []byte, decode func() error) error {
	if t != protowire.BytesType {
		return errType
	}
	return decode()
}

func (d *Decoder) guest(data []byte, g *Guest) error {
	return fields(data, func(n protowire.Number, t protowire.Type, b []byte, x uint64) error {
		switch n {
		case guestCPU:
			return asDouble(t, x, &g.CPUUsagePercent)
		case guestMemPct:
			var f float64
			if err := asDouble(t, x, &f); err != nil {
				return err
			}
			g.MemoryUsagePercent = &f
		case guestMemUsed:
			return asUint(t, x, &g.MemoryUsedKB)
		case guestMemTotal:
			return asUint(t, x, &g.MemoryTotalKB)
		case guestMemAvail:
			return asUint(t, x, &g.MemoryAvailableKB)
		case guestUptime:
			return asUint(t, x, &g.UptimeSeconds)
		case guestTimestampMs:
			return asInt(t, x, &g.TimestampMs)
		case guestAgeMs:
			return asInt(t, x, &g.AgeMs)
		case guestTransport:
			return d.str(t, b, &g.Transport)
		case guestBootID:
			return d.str(t, b, &g.BootID)
		case guestAgentVersion:
			return d.str(t, b, &g.AgentVersion)
		case guestNetwork:
			g.HasNetwork = true
			return d.sub(t, b, func() error { return d.rates(b, &g.Network) })
		case guestDisk:
			g.HasDisk = true
			return d.sub(t, b, func() error { return d.rates(b, &g.Disk) })
		case guestOOMKills:
			return asOptUint(t, x, &g.OOMKills)
		case guestRestores:
			return asOptUint(t, x, &g.RestoresDetected)
		case guestVMGeneration:
			return asOptUint(t, x, &g.VMGeneration)
		case guestClockStep:
			return asInt(t, x, &g.ClockStepMs)
		case guestAgentStarted:
			return asInt(t, x, &g.AgentStartedMs)
		case guestClockSkew:
			return asOptInt(t, x, &g.ClockSkewMs)
		}
		return nil
	})
}

func vcpu(data []byte, c *VCPU) error {
	return fields(data, func(n protowire.Number, t protowire.Type, _ []byte, x uint64) error {
		switch n {
		case vcpuCount:
			var u uint64
			if err := asUint(t, x, &u); err != nil {
				return err
			}
			if u > math.MaxUint32 {
				return errors.New("vcpu count out of range")
			}
			c.Count = uint32(u)
		case vcpuUsage:
			return asDouble(t, x, &c.UsagePercent)
		}
		return nil
	})
}

func balloon(data []byte, bl *Balloon) error {
	return fields(data, func(n protowire.Number, t protowire.Type, _ []byte, x uint64) error {
		switch n {
		case balloonTotal:
			return asOptUint(t, x, &bl.TotalKB)
		case balloonAvail:
			return asOptUint(t, x, &bl.AvailableKB)
		case balloonFree:
			return asOptUint(t, x, &bl.FreeKB)
		case balloonAgeMs:
			return asInt(t, x, &bl.AgeMs)
		case balloonOOMKills:
			return asOptUint(t, x, &bl.OOMKills)
		}
		return nil
	})
}

func cgroup(data []byte, c *Cgroup) error {
	return fields(data, func(n protowire.Number, t protowire.Type, _ []byte, x uint64) error {
		opt := func(p **uint64) error {
			var u uint64
			if err := asUint(t, x, &u); err != nil {
				return err
			}
			*p = &u
			return nil
		}
		switch n {
		case cgVersion:
			var u uint64
			if err := asUint(t, x, &u); err != nil {
				return err
			}
			if u != 1 && u != 2 {
				return errors.New("cgroup version is neither 1 nor 2")
			}
			c.Version = uint32(u)
		case cgEpoch:
			return asUint(t, x, &c.Epoch)
		case cgCPU:
			return asDouble(t, x, &c.CPUUsagePercent)
		case cgThrottledPct:
			return asDouble(t, x, &c.ThrottledPercent)
		case cgThrottledPeriods:
			return asUint(t, x, &c.CPUThrottledPeriods)
		case cgThrottledSec:
			return asDouble(t, x, &c.CPUThrottledSeconds)
		case cgCPUSeconds:
			return asDouble(t, x, &c.CPUUsageSeconds)
		case cgQuota:
			var f float64
			if err := asDouble(t, x, &f); err != nil {
				return err
			}
			c.CPUQuotaCores = &f
		case cgMem:
			return asUint(t, x, &c.MemoryCurrentBytes)
		case cgPeak:
			return opt(&c.MemoryPeakBytes)
		case cgLimit:
			return opt(&c.MemoryLimitBytes)
		case cgEvMax:
			return asUint(t, x, &c.EventsMax)
		case cgEvHigh:
			return asUint(t, x, &c.EventsHigh)
		case cgEvOOMKill:
			return asUint(t, x, &c.EventsOOMKill)
		}
		return nil
	})
}

func process(data []byte, p *Process) error {
	return fields(data, func(n protowire.Number, t protowire.Type, _ []byte, x uint64) error {
		var u uint64
		switch n {
		case procPID:
			var i int64
			if err := asInt(t, x, &i); err != nil {
				return err
			}
			if i < 0 || i > math.MaxInt32 {
				return errors.New("pid out of range")
			}
			p.PID = int32(i)
		case procCPU:
			return asDouble(t, x, &p.CPUUsagePercent)
		case procVCPU:
			return asDouble(t, x, &p.VCPUUsagePercent)
		case procVCPUThreads:
			if err := asUint(t, x, &u); err != nil {
				return err
			}
			if u > math.MaxUint32 {
				return errors.New("vcpu_threads out of range")
			}
			p.VCPUThreads = uint32(u)
		case procRSS:
			return asUint(t, x, &p.MemoryRSSKB)
		case procUptime:
			return asUint(t, x, &p.UptimeSeconds)
		}
		return nil
	})
}

func (d *Decoder) rates(data []byte, r *Rates) error {
	return fields(data, func(n protowire.Number, t protowire.Type, b []byte, x uint64) error {
		switch n {
		case ratesSource:
			return d.str(t, b, &r.Source)
		case ratesRx:
			return asDouble(t, x, &r.RxBytesPerSec)
		case ratesTx:
			return asDouble(t, x, &r.TxBytesPerSec)
		case ratesAgeMs:
			return asInt(t, x, &r.AgeMs)
		}
		return nil
	})
}

// mapEntry reads one entry of a map<string, string> field into *m, at
// most limit entries.
func (d *Decoder) mapEntry(data []byte, m *map[string]string, limit int, what string) error {
	var k, val string
	err := fields(data, func(n protowire.Number, t protowire.Type, b []byte, _ uint64) error {
		switch n {
		case mapKey:
			return d.str(t, b, &k)
		case mapValue:
			return d.str(t, b, &val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if *m == nil {
		*m = make(map[string]string, 2)
	}
	if len(*m) >= limit {
		return fmt.Errorf("over %d %s", limit, what)
	}
	(*m)[k] = val
	return nil
}

// str stores a string field, interned.
func (d *Decoder) str(t protowire.Type, b []byte, s *string) error {
	if t != protowire.BytesType {
		return errType
	}
	if len(b) > maxStringLen {
		return fmt.Errorf("a string of %d bytes (at most %d)", len(b), maxStringLen)
	}
	if !utf8.Valid(b) {
		return errors.New("a string is not UTF-8")
	}
	if v, ok := d.strs[string(b)]; ok {
		*s = v
		return nil
	}
	v := string(b)
	d.strs[v] = v
	*s = v
	return nil
}

func asUint(t protowire.Type, x uint64, p *uint64) error {
	if t != protowire.VarintType {
		return errType
	}
	*p = x
	return nil
}

// asOptUint and asOptInt set an optional field: present, even when 0.
func asOptUint(t protowire.Type, x uint64, p **uint64) error {
	var u uint64
	if err := asUint(t, x, &u); err != nil {
		return err
	}
	*p = &u
	return nil
}

func asOptInt(t protowire.Type, x uint64, p **int64) error {
	var i int64
	if err := asInt(t, x, &i); err != nil {
		return err
	}
	*p = &i
	return nil
}

func asInt(t protowire.Type, x uint64, p *int64) error {
	if t != protowire.VarintType {
		return errType
	}
	*p = int64(x)
	return nil
}

func asBool(t protowire.Type, x uint64, p *bool) error {
	if t != protowire.VarintType {
		return errType
	}
	*p = x != 0
	return nil
}

// asDouble refuses NaN and infinities: no figure fcmon keeps is either.
func asDouble(t protowire.Type, x uint64, p *float64) error {
	if t != protowire.Fixed64Type {
		return errType
	}
	f := math.Float64frombits(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("a figure is not a finite number")
	}
	*p = f
	return nil
}

func (d *Decoder) clash(data []byte, c *Clash) error {
	return fields(data, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch n {
		case clashID:
			return d.str(t, v, &c.ID)
		case clashPID:
			return asInt(t, x, &c.PID)
		case clashHolderPID:
			return asInt(t, x, &c.HolderPID)
		case clashRenamedTo:
			return d.str(t, v, &c.RenamedTo)
		case clashAtMs:
			return asInt(t, x, &c.AtMs)
		}
		return nil
	})
}

func (d *Decoder) exit(data []byte, e *Exit) error {
	return fields(data, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch n {
		case exitID:
			return d.str(t, v, &e.ID)
		case exitPID:
			return asInt(t, x, &e.PID)
		case exitAtMs:
			return asInt(t, x, &e.AtMs)
		case exitReason:
			return d.str(t, v, &e.Reason)
		case exitOOMKills, exitLimit:
			var u uint64
			if err := asUint(t, x, &u); err != nil {
				return err
			}
			if n == exitOOMKills {
				e.CgroupOOMKills = &u
			} else {
				e.CgroupLimitBytes = &u
			}
		}
		return nil
	})
}

package procfs

import (
	"encoding/binary"
	"strconv"
)

// DefaultVMClockPath is where Linux (6.13 and later, driver ptp_vmclock)
// exposes the hypervisor's VMClock page: Firecracker's, QEMU's "vmclock"
// device, EC2's.
const DefaultVMClockPath = "/dev/vmclock0"

// VMClock is what the guest agent takes of the VMClock page: the two
// counters a hypervisor changes when the guest's clock was disrupted.
type VMClock struct {
	// DisruptionMarker changes when the clock's counter was disrupted: a
	// live migration or a restore from a snapshot.
	DisruptionMarker uint64
	// Generation changes only when the guest was loaded from a snapshot;
	// valid when HasGeneration (the hypervisor sets a flag for it).
	Generation    uint64
	HasGeneration bool
}

// The VMClock page's layout (Linux's uapi vmclock-abi.h), little-endian.
const (
	vmclockMagic         = 0x4b4c4356 // "VCLK"
	vmclockOffSize       = 4          // u32: bytes of the structure's region
	vmclockOffSeq        = 12         // u32: odd while the hypervisor writes
	vmclockOffDisruption = 16         // u64
	vmclockOffFlags      = 24         // u64
	vmclockOffGeneration = 104        // u64, when vmclockFlagGeneration
	vmclockFlagGen       = 1 << 8     // VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT
)

// VMClock reads the VMClock page at path (DefaultVMClockPath normally; a
// file laid out the same way in tests). A guest without the device gets an
// error satisfying errors.Is(err, fs.ErrNotExist).
func (FS) VMClock(path string) (VMClock, error) {
	return readAndParse(path, parseVMClock)
}

// parseVMClock decodes the start of a VMClock page. The kernel's read
// copies the page consistently (it retries while seq_count is odd), so an
// odd seq_count here means a page that is not the device's.
func parseVMClock(data []byte) (VMClock, error) {
	if len(data) < vmclockOffFlags+8 {
		return VMClock{}, &ParseError{Msg: "VMClock page shorter than its header (" + strconv.Itoa(len(data)) + " bytes)"}
	}
	le := binary.LittleEndian
	if le.Uint32(data) != vmclockMagic {
		return VMClock{}, &ParseError{Msg: "not a VMClock page (no VCLK magic)"}
	}
	if le.Uint32(data[vmclockOffSeq:])&1 != 0 {
		return VMClock{}, &ParseError{Msg: "VMClock page caught mid-update (odd seq_count)"}
	}
	c := VMClock{DisruptionMarker: le.Uint64(data[vmclockOffDisruption:])}
	end := vmclockOffGeneration + 8
	if le.Uint64(data[vmclockOffFlags:])&vmclockFlagGen != 0 && len(data) >= end && int64(le.Uint32(data[vmclockOffSize:])) >= int64(end) {
		c.Generation, c.HasGeneration = le.Uint64(data[vmclockOffGeneration:]), true
	}
	return c, nil
}

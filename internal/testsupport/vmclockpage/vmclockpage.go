// Package vmclockpage writes pages laid out like the VMClock device's
// (Linux's uapi vmclock-abi.h), for guests and tests without the device.
// It is written from the ABI on its own, not from the guest agent's reader,
// so the two check each other.
package vmclockpage

import "encoding/binary"

// Page is the part of the page the guest agent reads.
type Page struct {
	Seq              uint32 // even: consistent
	DisruptionMarker uint64
	Generation       uint64
	HasGeneration    bool // sets VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT
}

// Bytes returns the 4 KiB page: magic "VCLK", size 4096, version 1, an
// invalid counter (no clock calibration, as Firecracker offers it).
func (p Page) Bytes() []byte {
	b := make([]byte, 4096)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0x4b4c4356)
	le.PutUint32(b[4:], 4096)
	le.PutUint16(b[8:], 1)
	b[10] = 0xff // counter_id: VMCLOCK_COUNTER_INVALID
	le.PutUint32(b[12:], p.Seq)
	le.PutUint64(b[16:], p.DisruptionMarker)
	var flags uint64
	if p.HasGeneration {
		flags |= 1 << 8
	}
	le.PutUint64(b[24:], flags)
	le.PutUint64(b[104:], p.Generation)
	return b
}

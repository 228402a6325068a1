package wire

import (
	"errors"
	"math"
	"strconv"
)

// Validate reports the first figure of m that no healthy guest agent can
// produce: a percentage outside [0, 100] or not finite, more memory used or
// available than installed, or no memory at all. Consumers treat such a
// document as a failed poll rather than store it.
func (m *GuestMetrics) Validate() error {
	if err := percent("cpu_usage_percent", m.CPUUsagePercent); err != nil {
		return err
	}
	if err := percent("memory_usage_percent", m.MemoryUsagePercent); err != nil {
		return err
	}
	if m.MemoryTotalKB == 0 {
		return errors.New("memory_total_kb is 0")
	}
	if m.MemoryUsedKB > m.MemoryTotalKB {
		return errors.New("memory_used_kb " + strconv.FormatUint(m.MemoryUsedKB, 10) +
			" exceeds memory_total_kb " + strconv.FormatUint(m.MemoryTotalKB, 10))
	}
	if m.MemoryAvailableKB > m.MemoryTotalKB {
		return errors.New("memory_available_kb " + strconv.FormatUint(m.MemoryAvailableKB, 10) +
			" exceeds memory_total_kb " + strconv.FormatUint(m.MemoryTotalKB, 10))
	}
	for _, n := range m.Network {
		if err := rate("network "+n.Interface, n.RxBytesPerSec, n.TxBytesPerSec); err != nil {
			return err
		}
	}
	for _, d := range m.Disks {
		if err := rate("disk "+d.Device, d.ReadBytesPerSec, d.WriteBytesPerSec); err != nil {
			return err
		}
	}
	return nil
}

func percent(name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return errors.New(name + " " + strconv.FormatFloat(v, 'g', -1, 64) + " is outside [0, 100]")
	}
	return nil
}

func rate(name string, vs ...float64) error {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return errors.New(name + ": rate " + strconv.FormatFloat(v, 'g', -1, 64) + " is not a non-negative number")
		}
	}
	return nil
}

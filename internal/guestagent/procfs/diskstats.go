package procfs

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// DiskStat is one line of /proc/diskstats: I/O counters of a block device
// since it appeared. Times are in milliseconds; sectors are 512 bytes
// whatever the device's real sector size.
type DiskStat struct {
	Major, Minor uint32
	Name         string

	ReadsCompleted, ReadsMerged, SectorsRead, ReadTimeMs       uint64
	WritesCompleted, WritesMerged, SectorsWritten, WriteTimeMs uint64
	IOInProgress, IOTimeMs, WeightedIOTimeMs                   uint64
}

const sectorBytes = 512

// ReadBytes returns the bytes read, saturating at the uint64 maximum.
func (d DiskStat) ReadBytes() uint64 { return sectorsToBytes(d.SectorsRead) }

// WriteBytes returns the bytes written, saturating at the uint64 maximum.
func (d DiskStat) WriteBytes() uint64 { return sectorsToBytes(d.SectorsWritten) }

func sectorsToBytes(s uint64) uint64 {
	if s > ^uint64(0)/sectorBytes {
		return ^uint64(0)
	}
	return s * sectorBytes
}

// Disks reads <proc>/diskstats and keeps whole disks: devices listed in
// <sys>/block (partitions are not), except RAM, loop, zram and floppy
// devices. When <sys>/block does not exist (sysfs not mounted), partitions
// are recognised by name instead: "sda1" of "sda", "nvme0n1p1" of "nvme0n1".
func (fs FS) Disks() ([]DiskStat, error) {
	all, err := readAndParse(fs.procPath("diskstats"), parseDiskStats)
	if err != nil {
		return nil, err
	}
	blockDir := fs.sysPath("block")
	if _, err := os.Stat(blockDir); errors.Is(err, os.ErrNotExist) {
		return wholeDisksByName(all), nil
	}
	disks := all[:0]
	for _, d := range all {
		if virtualDisk(d.Name) {
			continue
		}
		// sysfs spells a '/' in a device name ("cciss/c0d0") as '!'.
		if _, err := os.Lstat(blockDir + "/" + strings.ReplaceAll(d.Name, "/", "!")); err != nil {
			continue
		}
		disks = append(disks, d)
	}
	return disks, nil
}

// virtualDisk reports devices that hold no persistent data.
func virtualDisk(name string) bool {
	for _, p := range [...]string{"ram", "loop", "zram", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// wholeDisksByName drops virtual disks and partitions of listed disks,
// following the kernel's naming: a disk whose name ends in a digit numbers
// its partitions after a 'p' ("mmcblk0p1"), others directly ("vda1"), so
// "dm-10" is not taken for a partition of "dm-1".
func wholeDisksByName(all []DiskStat) []DiskStat {
	disks := make([]DiskStat, 0, len(all))
	for _, d := range all {
		if !virtualDisk(d.Name) && !isPartition(d.Name, all) {
			disks = append(disks, d)
		}
	}
	return disks
}

func isPartition(name string, all []DiskStat) bool {
	for _, disk := range all {
		base := disk.Name
		suffix, ok := strings.CutPrefix(name, base)
		if !ok || len(suffix) == 0 || len(base) == 0 {
			continue
		}
		if c := base[len(base)-1]; c >= '0' && c <= '9' {
			if suffix, ok = strings.CutPrefix(suffix, "p"); !ok {
				continue
			}
		}
		if _, err := parseUint(suffix); err == nil {
			return true
		}
	}
	return false
}

// parseDiskStats parses /proc/diskstats without filtering. Lines have 14
// columns (kernels before 4.18), 18 (discard counters, 4.18) or 20 (flush
// counters, 5.5); later kernels may append more, which are checked and
// ignored. Kernels before 2.6.25 printed partitions with 7 columns (reads,
// sectors read, writes, sectors written), which are accepted too.
func parseDiskStats(data []byte) ([]DiskStat, error) {
	if err := checkTerminated(data); err != nil {
		return nil, err
	}
	stats := make([]DiskStat, 0, countLines(data))
	l := lines[[]byte]{rest: data}
	for line, ok := l.next(); ok; line, ok = l.next() {
		d, err := parseDiskLine(l.n, line)
		if err != nil {
			return nil, err
		}
		stats = append(stats, d)
	}
	return stats, nil
}

func parseDiskLine(n int, line []byte) (DiskStat, error) {
	var d DiskStat
	majorF, rest := nextField(line)
	minorF, rest := nextField(rest)
	name, rest := nextField(rest)
	major, err := parseUint(majorF)
	if err == nil && major > 1<<32-1 {
		err = errOverflow
	}
	if err != nil {
		return d, fieldErr(n, "major number", majorF, err)
	}
	minor, err := parseUint(minorF)
	if err == nil && minor > 1<<32-1 {
		err = errOverflow
	}
	if err != nil {
		return d, fieldErr(n, "minor number", minorF, err)
	}
	if len(name) == 0 || string(name) == "." || string(name) == ".." {
		return d, lineErr(n, "bad device name "+quote(name))
	}
	var v [11]uint64
	cols := 0
	for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
		x, err := parseUint(f)
		if err != nil {
			return d, fieldErr(n, string(name)+" column "+strconv.Itoa(cols+4), f, err)
		}
		if cols < len(v) {
			v[cols] = x
		}
		cols++
	}
	switch total := cols + 3; {
	case total == 7:
		v = [11]uint64{0: v[0], 2: v[1], 4: v[2], 6: v[3]}
	case total != 14 && total != 18 && total < 20:
		return d, lineErr(n, string(name)+": "+strconv.Itoa(total)+" columns, want 14, 18 or 20")
	}
	return DiskStat{
		Major: uint32(major), Minor: uint32(minor), Name: string(name),
		ReadsCompleted: v[0], ReadsMerged: v[1], SectorsRead: v[2], ReadTimeMs: v[3],
		WritesCompleted: v[4], WritesMerged: v[5], SectorsWritten: v[6], WriteTimeMs: v[7],
		IOInProgress: v[8], IOTimeMs: v[9], WeightedIOTimeMs: v[10],
	}, nil
}

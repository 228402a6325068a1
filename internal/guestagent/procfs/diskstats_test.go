package procfs

import (
	"math"
	"testing"
)

func TestParseDiskStats(t *testing.T) {
	full := DiskStat{
		Major: 8, Minor: 0, Name: "sda",
		ReadsCompleted: 1, ReadsMerged: 2, SectorsRead: 3, ReadTimeMs: 4,
		WritesCompleted: 5, WritesMerged: 6, SectorsWritten: 7, WriteTimeMs: 8,
		IOInProgress: 9, IOTimeMs: 10, WeightedIOTimeMs: 11,
	}
	runParseCases(t, parseDiskStats, []parseCase[[]DiskStat]{
		{name: "14 columns", in: "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n", want: []DiskStat{full}},
		{name: "18 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", want: []DiskStat{full}},
		{name: "20 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", want: []DiskStat{full}},
		{name: "future 22 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n", want: []DiskStat{full}},
		{
			name: "2.6 partition with 7 columns",
			in:   "8 1 sda1 10 20 30 40\n",
			want: []DiskStat{{Major: 8, Minor: 1, Name: "sda1", ReadsCompleted: 10, SectorsRead: 20, WritesCompleted: 30, SectorsWritten: 40}},
		},
		{
			name: "large major and minor",
			in:   "4294967295 1048575 nvme0n1 0 0 0 0 0 0 0 0 0 0 0\n",
			want: []DiskStat{{Major: 4294967295, Minor: 1048575, Name: "nvme0n1"}},
		},
		{name: "empty", in: "", want: []DiskStat{}},
		{name: "13 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10\n", err: "line 1: sda: 13 columns, want 14, 18 or 20"},
		{name: "15 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12\n", err: "15 columns"},
		{name: "19 columns", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", err: "19 columns"},
		{name: "no name", in: "8 0\n", err: `bad device name ""`},
		{name: "dot-dot name", in: "8 0 .. 1 2 3 4 5 6 7 8 9 10 11\n", err: "bad device name"},
		{name: "bad major", in: "x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", err: `major number "x"`},
		{name: "major overflow", in: "4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", err: "major number"},
		{name: "minor overflow", in: "8 4294967296 sda 1 2 3 4 5 6 7 8 9 10 11\n", err: "minor number"},
		{name: "bad counter", in: "8 0 sda 1 2 3 4 5 x 7 8 9 10 11\n", err: `line 1: sda column 9 "x"`},
		{name: "counter overflow", in: "8 0 sda 1 2 3 99999999999999999999 5 6 7 8 9 10 11\n", err: "out of range"},
		{name: "truncated", in: "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1", err: "line 2: truncated"},
	})
}

func TestDiskBytes(t *testing.T) {
	d := DiskStat{SectorsRead: 3, SectorsWritten: math.MaxUint64 / 100}
	if d.ReadBytes() != 1536 || d.WriteBytes() != math.MaxUint64 {
		t.Errorf("ReadBytes() = %d, WriteBytes() = %d", d.ReadBytes(), d.WriteBytes())
	}
}

func TestWholeDisksByName(t *testing.T) {
	var all []DiskStat
	for _, n := range []string{
		"sda", "sda1", "sda15", "vda", "vda1", "nvme0n1", "nvme0n1p1", "mmcblk0", "mmcblk0p2",
		"dm-1", "dm-10", "md0", "md0p1", "loop0", "loop0p1", "ram0", "zram0", "fd0", "sr0", "xvda", "xvda1", "sdaa",
	} {
		all = append(all, DiskStat{Name: n})
	}
	var got []string
	for _, d := range wholeDisksByName(all) {
		got = append(got, d.Name)
	}
	// "sdaa" is a disk of its own, not partition "a" of "sda".
	mustEqual(t, "wholeDisksByName", got, nil, []string{"sda", "vda", "nvme0n1", "mmcblk0", "dm-1", "dm-10", "md0", "sr0", "xvda", "sdaa"})
}

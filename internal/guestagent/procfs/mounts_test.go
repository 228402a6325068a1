package procfs

import "testing"

func TestParseMounts(t *testing.T) {
	runParseCases(t, parseMounts, []parseCase[[]Mount]{
		{
			name: "plain",
			in:   "/dev/vda / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
			want: []Mount{{"/dev/vda", "/", "ext4", false}, {"proc", "/proc", "proc", false}},
		},
		{
			name: "read-only",
			in:   "/dev/vda / ext4 ro,relatime 0 0\n/dev/vdb /b ext4 rw,errors=remount-ro 0 0\n/dev/vdc /c squashfs rw,ro 0 0\n",
			want: []Mount{{"/dev/vda", "/", "ext4", true}, {"/dev/vdb", "/b", "ext4", false}, {"/dev/vdc", "/c", "squashfs", true}},
		},
		{
			name: "escapes",
			in:   `/dev/sdb1 /media/USB\040Stick vfat rw 0 0` + "\n" + `a\134b /x\011y\012z fuse.my\040fs rw 0 0` + "\n",
			want: []Mount{{"/dev/sdb1", "/media/USB Stick", "vfat", false}, {`a\b`, "/x\ty\nz", "fuse.my fs", false}},
		},
		{name: "empty", in: "", want: []Mount{}},
		{name: "five fields", in: "/dev/vda / ext4 rw 0\n", err: "line 1: want 6 fields"},
		{name: "seven fields", in: "/dev/vda / ext4 rw 0 0 0\n", err: `line 1: unexpected field "0"`},
		{name: "bad dump", in: "/dev/vda / ext4 rw x 0\n", err: `dump/pass field "x"`},
		{name: "bad escape", in: `/dev/vda /a\04 ext4 rw 0 0` + "\n", err: `line 1: bad escape in "/a\\04"`},
		{name: "escape too large", in: `/dev/vda /a\777 ext4 rw 0 0` + "\n", err: "bad escape"},
		{name: "truncated", in: "/dev/vda / ext4 rw 0 0\n/dev/vdb /mnt", err: "line 2: truncated"},
	})
}

func TestRealMounts(t *testing.T) {
	all := []Mount{
		{Device: "proc", MountPoint: "/proc", FSType: "proc"},
		{Device: "/dev/vda", MountPoint: "/", FSType: "ext4"},
		{Device: "/dev/vdb", MountPoint: "/data", FSType: "xfs"},
		{Device: "tmpfs", MountPoint: "/data", FSType: "tmpfs"}, // hides /dev/vdb
		{Device: "/dev/vdc", MountPoint: "/var", FSType: "ext4"},
		{Device: "/dev/vdd", MountPoint: "/var", FSType: "btrfs"}, // hides /dev/vdc
		{Device: "cgroup2", MountPoint: "/sys/fs/cgroup", FSType: "cgroup2"},
		{Device: "lxcfs", MountPoint: "/var/lib/lxcfs", FSType: "fuse.lxcfs"},
		{Device: "server:/export", MountPoint: "/nfs", FSType: "nfs4"},
	}
	mustEqual(t, "realMounts", realMounts(all), nil, []Mount{
		{Device: "/dev/vda", MountPoint: "/", FSType: "ext4"},
		{Device: "/dev/vdd", MountPoint: "/var", FSType: "btrfs"},
		{Device: "server:/export", MountPoint: "/nfs", FSType: "nfs4"},
	})
}

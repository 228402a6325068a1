package procfs

import (
	"os"
	"syscall"
)

// StatFS returns the size and free space of the filesystem holding path.
// Used space is TotalBytes - FreeBytes; AvailableBytes is what an
// unprivileged user may still write (free minus the root reserve). A hung
// network filesystem can block this call; callers that must not stall should
// run it with their own deadline.
func StatFS(path string) (FSUsage, error) {
	var st syscall.Statfs_t
	for {
		err := syscall.Statfs(path, &st)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return FSUsage{}, &os.PathError{Op: "statfs", Path: path, Err: err}
		}
	}
	// f_frsize is the unit of the block counts; f_bsize is only the preferred
	// I/O size, though the two agree on nearly every filesystem.
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return FSUsage{
		TotalBytes:     mulSat(uint64(st.Blocks), unit),
		FreeBytes:      mulSat(uint64(st.Bfree), unit),
		AvailableBytes: mulSat(uint64(st.Bavail), unit),
		Files:          uint64(st.Files),
		FilesFree:      uint64(st.Ffree),
	}, nil
}

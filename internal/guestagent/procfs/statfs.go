package procfs

// FSUsage is the space of one filesystem in bytes. Used space is
// TotalBytes - FreeBytes.
type FSUsage struct {
	TotalBytes     uint64
	FreeBytes      uint64 // free blocks, including those reserved for root
	AvailableBytes uint64 // free blocks an unprivileged user may use
	Files          uint64 // inodes in total; 0 where the filesystem has no fixed number
	FilesFree      uint64 // free inodes
}

// mulSat multiplies without wrapping around.
func mulSat(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

package procfs

import (
	"errors"
	"os"
)

// OnlineCPUs returns the number of online CPUs from
// <sys>/devices/system/cpu/online ("0-3,5,7-8"). Without sysfs it counts
// the "cpuN" lines of <proc>/stat, which lists online CPUs only.
func (fs FS) OnlineCPUs() (int, error) {
	n, err := readAndParse(fs.sysPath("devices/system/cpu/online"), parseCPUList)
	if !errors.Is(err, os.ErrNotExist) {
		return n, err
	}
	st, err := fs.Stat()
	if err != nil {
		return 0, err
	}
	if len(st.PerCPU) == 0 {
		return 0, parseErr(fs.procPath("stat"), lineErr(0, "no per-cpu lines"))
	}
	return len(st.PerCPU), nil
}

// parseCPUList counts the CPUs of a kernel CPU list: comma-separated
// numbers and inclusive ranges in ascending order, such as "0-3,5,7-8".
func parseCPUList(data []byte) (int, error) {
	if err := checkTerminated(data); err != nil {
		return 0, err
	}
	if countLines(data) != 1 {
		return 0, lineErr(0, "want one line")
	}
	list := data[:len(data)-1]
	if len(list) == 0 {
		return 0, lineErr(1, "empty cpu list")
	}
	count, next := 0, uint64(0) // next: lowest id the following item may use
	for len(list) > 0 {
		item := list
		if i := indexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
			if len(list) == 0 {
				return 0, lineErr(1, "trailing comma")
			}
		} else {
			list = list[len(list):]
		}
		lo, hi, err := parseCPURange(item)
		if err != nil {
			return 0, err
		}
		if lo < next {
			return 0, lineErr(1, "cpu list not ascending at "+quote(item))
		}
		count += int(hi - lo + 1)
		next = hi + 1
	}
	return count, nil
}

// parseCPURange parses "5" or "7-8".
func parseCPURange(item []byte) (lo, hi uint64, err error) {
	loF, hiF := item, item
	if i := indexByte(item, '-'); i >= 0 {
		loF, hiF = item[:i], item[i+1:]
	}
	lo, err = parseUint(loF)
	if err == nil {
		hi, err = parseUint(hiF)
	}
	if err == nil && (lo > hi || hi > maxCPUID) {
		err = errOverflow
	}
	if err != nil {
		return 0, 0, fieldErr(1, "cpu range", item, err)
	}
	return lo, hi, nil
}

package procfs

// OOMKills reads oom_kill of <proc>/vmstat: the processes the kernel's
// OOM killer has killed since boot. found is false on kernels before 4.13,
// which do not count them.
func (fs FS) OOMKills() (n uint64, found bool, err error) {
	v, err := readAndParse(fs.procPath("vmstat"), parseOOMKill)
	return v.n, v.found, err
}

type vmstatValue struct {
	n     uint64
	found bool
}

// parseOOMKill finds "oom_kill N" among /proc/vmstat's "name value" lines.
func parseOOMKill(data []byte) (vmstatValue, error) {
	if err := checkTerminated(data); err != nil {
		return vmstatValue{}, err
	}
	l := lines[[]byte]{rest: data}
	for line, ok := l.next(); ok; line, ok = l.next() {
		name, rest := nextField(line)
		if string(name) != "oom_kill" {
			continue
		}
		val, _ := nextField(rest)
		n, err := parseUint(val)
		if err != nil {
			return vmstatValue{}, fieldErr(l.n, "oom_kill", val, err)
		}
		return vmstatValue{n, true}, nil
	}
	return vmstatValue{}, nil
}

package procfs

// MemField is one line of /proc/meminfo.
type MemField struct {
	Name  string // as printed, e.g. "MemTotal" or "Active(anon)"
	Value uint64
	KB    bool // the line carries the "kB" unit; false for counts like HugePages_Total
}

// MemInfo is the content of /proc/meminfo. The named fields are in KiB and
// read 0 when the kernel does not print them.
type MemInfo struct {
	TotalKB, FreeKB, AvailableKB, BuffersKB, CachedKB, SReclaimableKB, SwapTotalKB, SwapFreeKB uint64

	HasAvailable bool // MemAvailable is present; kernels before 3.14 lack it

	Fields []MemField // every line in file order, for the Prometheus export
}

// Available returns the memory available for new work without swapping, in
// KiB: MemAvailable when the kernel reports it, otherwise the classic estimate
// free + buffers + cached + SReclaimable. Either way it is clamped to TotalKB,
// so TotalKB - Available() never underflows.
func (m MemInfo) Available() uint64 {
	avail := m.AvailableKB
	if !m.HasAvailable {
		avail = addSat(addSat(m.FreeKB, m.BuffersKB), addSat(m.CachedKB, m.SReclaimableKB))
	}
	return min(avail, m.TotalKB)
}

// addSat adds without wrapping around.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// MemInfo reads <proc>/meminfo. A file without MemTotal is an error.
func (fs FS) MemInfo() (MemInfo, error) {
	return readAndParse(fs.procPath("meminfo"), parseMemInfo)
}

func parseMemInfo(data []byte) (MemInfo, error) {
	var m MemInfo
	if err := checkTerminated(data); err != nil {
		return m, err
	}
	// One conversion for the whole file; names are then slices of it.
	text := string(data)
	m.Fields = make([]MemField, 0, countLines(text))
	hasTotal := false
	l := lines[string]{rest: text}
	for line, ok := l.next(); ok; line, ok = l.next() {
		f, err := parseMemLine(l.n, line)
		if err != nil {
			return MemInfo{}, err
		}
		m.Fields = append(m.Fields, f)
		if dst := m.named(f.Name); dst != nil {
			if !f.KB {
				return MemInfo{}, lineErr(l.n, f.Name+": missing kB unit")
			}
			*dst = f.Value
		}
		switch f.Name {
		case "MemTotal":
			hasTotal = true
		case "MemAvailable":
			m.HasAvailable = true
		}
	}
	if !hasTotal {
		return MemInfo{}, lineErr(0, "no MemTotal line")
	}
	return m, nil
}

// named returns the struct field that holds the line called name, if any.
func (m *MemInfo) named(name string) *uint64 {
	switch name {
	case "MemTotal":
		return &m.TotalKB
	case "MemFree":
		return &m.FreeKB
	case "MemAvailable":
		return &m.AvailableKB
	case "Buffers":
		return &m.BuffersKB
	case "Cached":
		return &m.CachedKB
	case "SReclaimable":
		return &m.SReclaimableKB
	case "SwapTotal":
		return &m.SwapTotalKB
	case "SwapFree":
		return &m.SwapFreeKB
	}
	return nil
}

// parseMemLine parses "Name:   1234 kB" or "Name:   12".
func parseMemLine(n int, line string) (MemField, error) {
	colon := indexByte(line, ':')
	if colon <= 0 {
		return MemField{}, lineErr(n, "no \"name:\" in "+quote(line))
	}
	name := line[:colon]
	if f, _ := nextField(name); len(f) != len(name) {
		return MemField{}, lineErr(n, "bad name "+quote(name))
	}
	num, tail := nextField(line[colon+1:])
	v, err := parseUint(num)
	if err != nil {
		return MemField{}, fieldErr(n, name+" value", num, err)
	}
	unit, rest := nextField(tail)
	if extra, _ := nextField(rest); len(extra) > 0 || (unit != "" && unit != "kB") {
		return MemField{}, lineErr(n, name+": unexpected "+quote(tail)+" after value")
	}
	return MemField{Name: name, Value: v, KB: unit == "kB"}, nil
}

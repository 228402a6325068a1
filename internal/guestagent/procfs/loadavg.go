package procfs

// Uptime reads <proc>/uptime and returns the seconds since boot (the first of
// its two numbers; the second, summed idle time of all CPUs, is checked but
// not returned).
func (fs FS) Uptime() (seconds float64, err error) {
	return readAndParse(fs.procPath("uptime"), parseUptime)
}

// parseUptime parses "249.34 466.82\n".
func parseUptime(data []byte) (float64, error) {
	if err := checkTerminated(data); err != nil {
		return 0, err
	}
	l := lines[[]byte]{rest: data}
	line, _ := l.next()
	up, rest := nextField(line)
	idle, rest := nextField(rest)
	if len(idle) == 0 {
		return 0, lineErr(1, "want 2 fields, got "+quote(line))
	}
	if extra, _ := nextField(rest); len(extra) > 0 {
		return 0, lineErr(1, "unexpected field "+quote(extra))
	}
	if _, ok := l.next(); ok {
		return 0, lineErr(2, "unexpected second line")
	}
	v, err := parseDecimal(up)
	if err != nil {
		return 0, fieldErr(1, "uptime", up, err)
	}
	if _, err := parseDecimal(idle); err != nil {
		return 0, fieldErr(1, "idle time", idle, err)
	}
	return v, nil
}

// LoadAvg is the content of /proc/loadavg.
type LoadAvg struct {
	Load1, Load5, Load15 float64 // run-queue averages over 1, 5 and 15 minutes
	Runnable             uint64  // threads runnable now
	Threads              uint64  // threads (scheduling entities) that exist now
}

// LoadAvg reads <proc>/loadavg.
func (fs FS) LoadAvg() (LoadAvg, error) {
	return readAndParse(fs.procPath("loadavg"), parseLoadAvg)
}

// parseLoadAvg parses "0.02 0.06 0.02 1/85 3246\n"; the last field, the most
// recent PID, must be a number but is not returned.
func parseLoadAvg(data []byte) (LoadAvg, error) {
	var la LoadAvg
	if err := checkTerminated(data); err != nil {
		return la, err
	}
	l := lines[[]byte]{rest: data}
	line, _ := l.next()
	if _, ok := l.next(); ok {
		return la, lineErr(2, "unexpected second line")
	}
	if n := countFields(line); n != 5 {
		return la, lineErr(1, "want 5 fields, got "+quote(line))
	}
	rest := line
	names := [...]string{"1m", "5m", "15m"}
	for i, dst := range [...]*float64{&la.Load1, &la.Load5, &la.Load15} {
		var f []byte
		f, rest = nextField(rest)
		v, err := parseDecimal(f)
		if err != nil {
			return LoadAvg{}, fieldErr(1, names[i]+" load", f, err)
		}
		*dst = v
	}
	procs, rest := nextField(rest)
	slash := indexByte(procs, '/')
	if slash < 0 {
		return LoadAvg{}, lineErr(1, "want runnable/total, got "+quote(procs))
	}
	var err error
	if la.Runnable, err = parseUint(procs[:slash]); err != nil {
		return LoadAvg{}, fieldErr(1, "runnable count", procs[:slash], err)
	}
	if la.Threads, err = parseUint(procs[slash+1:]); err != nil {
		return LoadAvg{}, fieldErr(1, "thread count", procs[slash+1:], err)
	}
	last, _ := nextField(rest)
	if _, err := parseUint(last); err != nil {
		return LoadAvg{}, fieldErr(1, "last pid", last, err)
	}
	return la, nil
}

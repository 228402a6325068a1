package procfs

import "strconv"

// NetDev is one interface's counters from /proc/net/dev, totals since the
// interface appeared.
type NetDev struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// NetDev reads <proc>/net/dev: every interface of the reader's network
// namespace, loopback included, in file order.
func (fs FS) NetDev() ([]NetDev, error) {
	return readAndParse(fs.procPath("net/dev"), parseNetDev)
}

// netDevColumns is the number of counters per line: 8 receive, 8 transmit.
const netDevColumns = 16

func parseNetDev(data []byte) ([]NetDev, error) {
	if err := checkTerminated(data); err != nil {
		return nil, err
	}
	l := lines[[]byte]{rest: data}
	for i := 0; i < 2; i++ {
		if h, ok := l.next(); !ok || indexByte(h, '|') < 0 {
			return nil, lineErr(i+1, "missing header line")
		}
	}
	devs := make([]NetDev, 0, countLines(l.rest))
	for line, ok := l.next(); ok; line, ok = l.next() {
		d, err := parseNetDevLine(l.n, line)
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// parseNetDevLine parses "  eth0: 9013813 239 0 ...". Interface names
// cannot contain ':', and old kernels left no blank between the colon and a
// wide first number, so the name ends at the first colon.
func parseNetDevLine(n int, line []byte) (NetDev, error) {
	colon := indexByte(line, ':')
	if colon < 0 {
		return NetDev{}, lineErr(n, "no \"name:\" in "+quote(line))
	}
	name, after := nextField(line[:colon])
	if len(name) == 0 || countFields(after) != 0 {
		return NetDev{}, lineErr(n, "bad interface name "+quote(line[:colon]))
	}
	var v [netDevColumns]uint64
	cols := 0
	for f, rest := nextField(line[colon+1:]); len(f) > 0; f, rest = nextField(rest) {
		if cols == netDevColumns {
			return NetDev{}, lineErr(n, string(name)+": more than "+strconv.Itoa(netDevColumns)+" columns")
		}
		x, err := parseUint(f)
		if err != nil {
			return NetDev{}, fieldErr(n, string(name)+" column "+strconv.Itoa(cols+1), f, err)
		}
		v[cols] = x
		cols++
	}
	if cols != netDevColumns {
		return NetDev{}, lineErr(n, string(name)+": "+strconv.Itoa(cols)+" columns, want "+strconv.Itoa(netDevColumns))
	}
	return NetDev{
		Name:    string(name),
		RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
		TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11],
	}, nil
}

package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"maps"
	"strconv"
	"strings"
)

// Membership is where /proc/PID/cgroup places a process: its cgroup v2
// path ("" when it has none) and, for cgroup v1, its path in each
// controller's hierarchy.
type Membership struct {
	V2 string
	V1 map[string]string // controller → path; nil on a pure v2 host
}

func (m Membership) equal(o Membership) bool { return m.V2 == o.V2 && maps.Equal(m.V1, o.V1) }

// parseProcCgroup reads /proc/PID/cgroup: "ID:CONTROLLERS:PATH" a line, v2
// as "0::PATH". Named v1 hierarchies (name=systemd) hold no controller and
// are left out.
func parseProcCgroup(b []byte) (Membership, error) {
	var m Membership
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(path, "/") {
			return Membership{}, errors.New("not a /proc/PID/cgroup line: " + clip(line))
		}
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return Membership{}, errors.New("hierarchy id is not a number: " + clip(line))
		}
		if id == "0" && ctls == "" {
			m.V2 = path
			continue
		}
		for c := range strings.SplitSeq(ctls, ",") {
			if c == "" || strings.HasPrefix(c, "name=") {
				continue
			}
			if m.V1 == nil {
				m.V1 = map[string]string{}
			}
			m.V1[c] = path
		}
	}
	return m, sc.Err()
}

// parseKeyed reads a flat-keyed file ("key value" a line: cpu.stat,
// memory.stat, memory.events); keys not wanted are skipped.
func parseKeyed(b []byte, want func(key string, v uint64)) error {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			return errors.New("not a \"key value\" line: " + clip(line))
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return errors.New("not a number: " + clip(line))
		}
		want(k, n)
	}
	return nil
}

// parseValue reads a file of one number; "max" (v2's no limit) is ok false.
func parseValue(b []byte) (v uint64, limited bool, err error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, errors.New("not a number: " + clip(s))
	}
	return n, true, nil
}

// parseCPUMax reads v2's cpu.max, "QUOTA PERIOD" with QUOTA "max" for no
// quota.
func parseCPUMax(b []byte) (quotaUs, periodUs uint64, limited bool, err error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false, errors.New("cpu.max is not \"QUOTA PERIOD\": " + clip(string(b)))
	}
	if periodUs, err = strconv.ParseUint(f[1], 10, 64); err != nil || periodUs == 0 {
		return 0, 0, false, errors.New("cpu.max period is not a positive number: " + clip(f[1]))
	}
	if f[0] == "max" {
		return 0, periodUs, false, nil
	}
	if quotaUs, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return 0, 0, false, errors.New("cpu.max quota is not a number: " + clip(f[0]))
	}
	return quotaUs, periodUs, true, nil
}

// IO is one device's I/O of a cgroup.
type IO struct {
	Device                                   string // "MAJ:MIN"
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
}

// parseIOStat reads v2's io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." a line.
func parseIOStat(b []byte) ([]IO, error) {
	var out []IO
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !isDevice(f[0]) {
			return nil, errors.New("io.stat line does not start with MAJ:MIN: " + clip(line))
		}
		d := IO{Device: f[0]}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if !ok || err != nil {
				return nil, errors.New("io.stat field is not key=number: " + clip(kv))
			}
			switch k {
			case "rbytes":
				d.ReadBytes = n
			case "wbytes":
				d.WriteBytes = n
			case "rios":
				d.ReadOps = n
			case "wios":
				d.WriteOps = n
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// parseBlkio reads v1's blkio.throttle.io_service_bytes and io_serviced:
// "MAJ:MIN Op N" lines and a "Total N" line; bytes says which it is.
func parseBlkio(b []byte, into map[string]*IO, bytesFile bool) error {
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (len(f) == 2 && f[0] == "Total") {
			continue
		}
		if len(f) != 3 || !isDevice(f[0]) {
			return errors.New("not a \"MAJ:MIN Op N\" line: " + clip(line))
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return errors.New("not a number: " + clip(line))
		}
		d := into[f[0]]
		if d == nil {
			d = &IO{Device: f[0]}
			into[f[0]] = d
		}
		switch {
		case f[1] == "Read" && bytesFile:
			d.ReadBytes = n
		case f[1] == "Write" && bytesFile:
			d.WriteBytes = n
		case f[1] == "Read":
			d.ReadOps = n
		case f[1] == "Write":
			d.WriteOps = n
		}
	}
	return nil
}

// PSI is one resource's pressure: the share of time some (or all, full)
// tasks stalled, over 10 s, and the total stall time.
type PSI struct {
	SomeAvg10, FullAvg10     float64
	SomeTotalUs, FullTotalUs uint64
	HasFull                  bool
}

// parsePSI reads a pressure file: "some avg10=N avg60=N avg300=N total=N"
// and, but for cpu on older kernels, a "full ..." line.
func parsePSI(b []byte) (PSI, error) {
	var p PSI
	seen := false
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] != "some" && f[0] != "full" {
			return PSI{}, errors.New("pressure line is neither some nor full: " + clip(line))
		}
		var avg10 float64
		var total uint64
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return PSI{}, errors.New("pressure field is not key=value: " + clip(kv))
			}
			var err error
			switch k {
			case "avg10":
				avg10, err = strconv.ParseFloat(v, 64)
			case "total":
				total, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil || avg10 < 0 || avg10 > 100 {
				return PSI{}, errors.New("pressure field out of range: " + clip(kv))
			}
		}
		if f[0] == "some" {
			p.SomeAvg10, p.SomeTotalUs, seen = avg10, total, true
		} else {
			p.FullAvg10, p.FullTotalUs, p.HasFull = avg10, total, true
		}
	}
	if !seen {
		return PSI{}, errors.New("no \"some\" line")
	}
	return p, nil
}

func isDevice(s string) bool {
	maj, min, ok := strings.Cut(s, ":")
	_, e1 := strconv.ParseUint(maj, 10, 32)
	_, e2 := strconv.ParseUint(min, 10, 32)
	return ok && e1 == nil && e2 == nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

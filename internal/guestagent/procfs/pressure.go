package procfs

import (
	"errors"
	"os"
	"syscall"
)

// Resources with a file under /proc/pressure.
const (
	PressureCPU    = "cpu"
	PressureMemory = "memory"
	PressureIO     = "io"
	PressureIRQ    = "irq" // Linux 6.1+ with CONFIG_IRQ_TIME_ACCOUNTING; has only a "full" line
)

// PSILine is one line of a pressure file: the share of wall time in percent
// during which tasks were stalled, averaged over 10, 60 and 300 seconds, and
// the total stall time in microseconds.
type PSILine struct {
	Avg10, Avg60, Avg300 float64
	TotalUs              uint64
}

// Pressure is the content of a /proc/pressure file. "some" means at least
// one task was stalled, "full" that all non-idle tasks were.
type Pressure struct {
	Some    PSILine
	Full    PSILine
	HasSome bool // false only for irq, which has no "some" line
	HasFull bool // false for cpu before Linux 5.13
}

// errPSIDisabled is what a kernel built with PSI but booted with psi=0
// answers on read (EOPNOTSUPP). It matches os.ErrNotExist, so callers treat
// it like a kernel without PSI.
var errPSIDisabled = psiDisabledError{}

type psiDisabledError struct{}

func (psiDisabledError) Error() string { return "pressure stall information disabled (psi=0)" }

func (psiDisabledError) Is(target error) bool { return target == os.ErrNotExist }

// Pressure reads <proc>/pressure/<resource>, one of the Pressure*
// constants. On a kernel without PSI, or with PSI disabled at boot, the
// error satisfies errors.Is(err, fs.ErrNotExist).
func (fs FS) Pressure(resource string) (Pressure, error) {
	path := fs.procPath("pressure/" + resource)
	switch resource {
	case PressureCPU, PressureMemory, PressureIO, PressureIRQ:
	default:
		return Pressure{}, &os.PathError{Op: "open", Path: path, Err: errors.New("unknown pressure resource")}
	}
	p, err := readAndParse(path, parsePressure)
	return p, mapPSIDisabled(err)
}

// mapPSIDisabled turns EOPNOTSUPP from the kernel into errPSIDisabled.
func mapPSIDisabled(err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, syscall.EOPNOTSUPP) {
		return &os.PathError{Op: pe.Op, Path: pe.Path, Err: errPSIDisabled}
	}
	return err
}

// parsePressure parses lines such as
// "some avg10=0.88 avg60=0.43 avg300=0.70 total=4524117".
func parsePressure(data []byte) (Pressure, error) {
	var p Pressure
	if err := checkTerminated(data); err != nil {
		return p, err
	}
	l := lines[[]byte]{rest: data}
	for line, ok := l.next(); ok; line, ok = l.next() {
		kind, rest := nextField(line)
		var dst *PSILine
		var has *bool
		switch string(kind) {
		case "some":
			dst, has = &p.Some, &p.HasSome
		case "full":
			dst, has = &p.Full, &p.HasFull
		default:
			return Pressure{}, lineErr(l.n, "want \"some\" or \"full\", got "+quote(kind))
		}
		if *has {
			return Pressure{}, lineErr(l.n, "duplicate "+string(kind)+" line")
		}
		v, err := parsePSILine(l.n, rest)
		if err != nil {
			return Pressure{}, err
		}
		*dst, *has = v, true
	}
	if !p.HasSome && !p.HasFull {
		return p, lineErr(0, "no \"some\" or \"full\" line")
	}
	return p, nil
}

// parsePSILine parses the key=value pairs of a line. All four keys must be
// present, once each; keys a later kernel may add are ignored.
func parsePSILine(n int, rest []byte) (PSILine, error) {
	var v PSILine
	found := 0
	for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
		eq := indexByte(f, '=')
		if eq <= 0 {
			return v, lineErr(n, "want key=value, got "+quote(f))
		}
		key, val := f[:eq], f[eq+1:]
		var avg *float64
		bit := 0
		switch string(key) {
		case "avg10":
			avg, bit = &v.Avg10, 1
		case "avg60":
			avg, bit = &v.Avg60, 2
		case "avg300":
			avg, bit = &v.Avg300, 4
		case "total":
			bit = 8
		default:
			continue
		}
		if found&bit != 0 {
			return v, lineErr(n, "duplicate key "+quote(key))
		}
		found |= bit
		var err error
		if avg != nil {
			*avg, err = parseDecimal(val)
		} else {
			v.TotalUs, err = parseUint(val)
		}
		if err != nil {
			return v, fieldErr(n, string(key), val, err)
		}
	}
	if found != 15 {
		return v, lineErr(n, "want avg10, avg60, avg300 and total")
	}
	return v, nil
}

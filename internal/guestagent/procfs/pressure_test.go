package procfs

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParsePressure(t *testing.T) {
	runParseCases(t, parsePressure, []parseCase[Pressure]{
		{
			name: "some and full",
			in:   "some avg10=0.88 avg60=0.43 avg300=0.70 total=4524117\nfull avg10=0.01 avg60=0.02 avg300=0.03 total=7\n",
			want: Pressure{
				Some: PSILine{0.88, 0.43, 0.70, 4524117}, Full: PSILine{0.01, 0.02, 0.03, 7},
				HasSome: true, HasFull: true,
			},
		},
		{
			name: "cpu before 5.13",
			in:   "some avg10=100.00 avg60=50.00 avg300=1.00 total=18446744073709551615\n",
			want: Pressure{Some: PSILine{100, 50, 1, 1<<64 - 1}, HasSome: true},
		},
		{
			name: "irq",
			in:   "full avg10=0.10 avg60=0.05 avg300=0.01 total=4321\n",
			want: Pressure{Full: PSILine{0.1, 0.05, 0.01, 4321}, HasFull: true},
		},
		{
			name: "keys in another order, unknown key ignored",
			in:   "some total=9 avg300=3.00 avg60=2.00 avg10=1.00 avg900=4.00\n",
			want: Pressure{Some: PSILine{1, 2, 3, 9}, HasSome: true},
		},
		{name: "empty", in: "", err: `no "some" or "full" line`},
		{name: "unknown kind", in: "half avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", err: `line 1: want "some" or "full", got "half"`},
		{name: "duplicate line", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", err: "line 2: duplicate some line"},
		{name: "missing key", in: "some avg10=0.00 avg60=0.00 total=0\n", err: "line 1: want avg10, avg60, avg300 and total"},
		{name: "duplicate key", in: "some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", err: `duplicate key "avg10"`},
		{name: "no equals", in: "some avg10 avg60=0.00 avg300=0.00 total=0\n", err: `want key=value, got "avg10"`},
		{name: "bad avg", in: "some avg10=x avg60=0.00 avg300=0.00 total=0\n", err: `avg10 "x": not a number`},
		{name: "negative avg", in: "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", err: "not a number"},
		{name: "bad total", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n", err: `total "1.5"`},
		{name: "truncated", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg1", err: "line 2: truncated"},
	})
}

func TestPressureDisabled(t *testing.T) {
	// A kernel booted with psi=0 answers EOPNOTSUPP when the file is read.
	err := mapPSIDisabled(&os.PathError{Op: "read", Path: "/proc/pressure/cpu", Err: syscall.EOPNOTSUPP})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("EOPNOTSUPP mapped to %v, which is not ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "/proc/pressure/cpu") || !strings.Contains(err.Error(), "psi=0") {
		t.Errorf("message %q lacks the path or the reason", err)
	}
	other := &os.PathError{Op: "read", Path: "x", Err: syscall.EIO}
	if got := mapPSIDisabled(other); got != error(other) {
		t.Errorf("EIO mapped to %v", got)
	}
}

func TestPressureUnknownResource(t *testing.T) {
	for _, r := range []string{"", "../stat", "disk", "cpu/"} {
		if _, err := fixture("linux-6.18").Pressure(r); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Pressure(%q) error = %v, want an unknown-resource error", r, err)
		}
	}
}

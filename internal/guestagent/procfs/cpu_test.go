package procfs

import (
	"errors"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	runParseCases(t, parseCPUList, []parseCase[int]{
		{name: "one", in: "0\n", want: 1},
		{name: "range", in: "0-63\n", want: 64},
		{name: "mixed", in: "0-3,5,7-8\n", want: 7},
		{name: "single-cpu ranges", in: "0,2-2,4\n", want: 3},
		{name: "empty line", in: "\n", err: "line 1: empty cpu list"},
		{name: "empty file", in: "", err: "want one line"},
		{name: "two lines", in: "0\n1\n", err: "want one line"},
		{name: "trailing comma", in: "0-3,\n", err: "trailing comma"},
		{name: "leading comma", in: ",0\n", err: `cpu range ""`},
		{name: "reversed", in: "3-1\n", err: `cpu range "3-1": out of range`},
		{name: "overlap", in: "0-3,2-5\n", err: `not ascending at "2-5"`},
		{name: "repeat", in: "1,1\n", err: "not ascending"},
		{name: "descending", in: "4,2\n", err: "not ascending"},
		{name: "garbage", in: "0-x\n", err: `cpu range "0-x": not a number`},
		{name: "double dash", in: "0--3\n", err: "not a number"},
		{name: "blank", in: "0, 1\n", err: "not a number"},
		{name: "huge", in: "0-18446744073709551615\n", err: "out of range"},
		{name: "truncated", in: "0-6", err: "line 1: truncated"},
	})
}

func TestOnlineCPUsWithoutStat(t *testing.T) {
	// Neither sysfs nor /proc/stat: the error is the missing /proc/stat.
	_, err := NewFS(t.TempDir(), t.TempDir()).OnlineCPUs()
	if err == nil {
		t.Fatal("no error")
	}
	var perr *ParseError
	if errors.As(err, &perr) {
		t.Errorf("error = %v, want the open error", err)
	}
}

package fleet

import (
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

func row(name string, cpu float64, state string) Row {
	s := wire.CombinedSample{VMID: name, Source: wire.SourceGuest, MemorySource: wire.SourceGuest}
	if cpu >= 0 {
		s.CPUUsagePercent = &cpu
	}
	return Row{VM: &store.VM{ID: "id-" + name, Name: name}, S: s, Has: state != wire.StatePending, State: state}
}

// TestSortMissingLast: VMs without the figure come last in either order,
// ties go by name.
func TestSortMissingLast(t *testing.T) {
	rows := []Row{row("c", 10, wire.StateLive), row("a", -1, wire.StateLive), row("b", 10, wire.StateLive), row("d", 50, wire.StateLive)}
	for _, desc := range []bool{true, false} {
		ptrs := []*Row{&rows[0], &rows[1], &rows[2], &rows[3]}
		(&Query{Sort: "cpu", Desc: desc}).SortRows(ptrs)
		var got string
		for _, r := range ptrs {
			got += r.VM.Name
		}
		want := map[bool]string{true: "dbca", false: "bcda"}[desc]
		if got != want {
			t.Errorf("desc %v: %s, want %s", desc, got, want)
		}
	}
}

// TestSummarizeAndMerge: counts and top lists of two managers' parts add
// up to what one manager holding every row gives.
func TestSummarizeAndMerge(t *testing.T) {
	var all []Row
	for i, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		all = append(all, row(name, float64(i*7%11), wire.StateLive))
	}
	all = append(all, row("pending", -1, wire.StatePending))
	whole, _ := Summarize(all, 1)
	one, _ := Summarize(all[:6], 1)
	two, _ := Summarize(all[6:], 1)
	Merge(&one, &two)
	Finish(&one)
	if one.VMs != whole.VMs || one.ByState[wire.StateLive] != 12 || one.ByState[wire.StatePending] != 1 {
		t.Fatalf("merged counts %+v, whole %+v", one, whole)
	}
	if len(one.Top.CPU) != len(whole.Top.CPU) {
		t.Fatalf("top %d, want %d", len(one.Top.CPU), len(whole.Top.CPU))
	}
	for i := range whole.Top.CPU {
		if one.Top.CPU[i] != whole.Top.CPU[i] {
			t.Errorf("top CPU %d: %+v, want %+v", i, one.Top.CPU[i], whole.Top.CPU[i])
		}
	}
}

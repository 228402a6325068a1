package fleet

import (
	"cmp"
	"slices"
	"strings"
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

// TestNaturalOrder: names with numbers sort as people count.
func TestNaturalOrder(t *testing.T) {
	names := []string{"vm-1000", "vm-10", "web-2", "vm-2", "vm-1", "vm-01", "web-10", "vm", "vm-2a", "vm-2b", "Vm-3", "vm-0"}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Or(Natural(a, b), strings.Compare(a, b)) })
	want := []string{"Vm-3", "vm", "vm-0", "vm-01", "vm-1", "vm-2", "vm-2a", "vm-2b", "vm-10", "vm-1000", "web-2", "web-10"}
	if !slices.Equal(names, want) {
		t.Errorf("got  %v\nwant %v", names, want)
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{{"a9", "a10", -1}, {"a10", "a9", 1}, {"a007", "a7", 0}, {"", "a", -1}, {"x99999999999999999999", "x100000000000000000000", -1}} {
		if got := Natural(tt.a, tt.b); got != tt.want {
			t.Errorf("Natural(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzNatural: an order (antisymmetric), whatever the names.
func FuzzNatural(f *testing.F) {
	f.Add("vm-10", "vm-9")
	f.Add("a0b", "a00b")
	f.Fuzz(func(t *testing.T, a, b string) {
		if Natural(a, b) != -Natural(b, a) {
			t.Errorf("Natural(%q, %q) = %d but Natural(%q, %q) = %d", a, b, Natural(a, b), b, a, Natural(b, a))
		}
		if Natural(a, a) != 0 {
			t.Errorf("Natural(%q, itself) != 0", a)
		}
	})
}

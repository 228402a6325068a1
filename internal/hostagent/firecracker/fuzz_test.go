package firecracker

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeLine feeds the decoder what a pipe might carry. The seed corpus
// in testdata/fuzz/FuzzDecodeLine runs as an ordinary test.
func FuzzDecodeLine(f *testing.F) {
	f.Add(referenceLine(f))
	f.Add([]byte(`{"utc_timestamp_ms":1,"net_eth0":{"rx_bytes_count":18446744073709551615}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLine(data)
		if err != nil {
			if !errors.Is(err, ErrBadLine) {
				t.Fatalf("error %v does not wrap ErrBadLine", err)
			}
			if tail, ok := Recover(data); ok && len(tail) >= len(data) {
				t.Fatalf("Recover did not shorten the input")
			}
			return
		}
		// A decoded line sums without trouble, twice as much when added twice.
		a := NewAccumulator()
		a.Add(l)
		a.Add(l)
		s := a.Snapshot()
		if s.Lines != 2 || (l.NetAll != nil && s.NetAll.RxBytes != 2*l.NetAll.RxBytes) {
			t.Fatalf("accumulated %+v from %+v", s, l)
		}
		for id := range l.Net {
			if id == "" {
				t.Fatal("empty iface id")
			}
		}
	})
}

// FuzzSplitter checks that the way a stream is cut into reads never
// changes the lines it yields.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(2), uint8(8))
	f.Add(bytes.Repeat([]byte("x\n"), 40), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, cut, max uint8) {
		whole := NewSplitter(int(max) + 1)
		var want [][]byte
		whole.Feed(stream, func(l []byte) { want = append(want, bytes.Clone(l)) })
		s := NewSplitter(int(max) + 1)
		var got [][]byte
		step := int(cut) + 1
		for i := 0; i < len(stream); i += step {
			s.Feed(stream[i:min(i+step, len(stream))], func(l []byte) { got = append(got, bytes.Clone(l)) })
		}
		if len(got) != len(want) || s.LongLines() != whole.LongLines() {
			t.Fatalf("cut every %d: %q (long %d), whole: %q (long %d)", step, got, s.LongLines(), want, whole.LongLines())
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) || len(got[i]) > int(max)+1 {
				t.Fatalf("line %d: %q vs %q", i, got[i], want[i])
			}
		}
	})
}

package firecracker

import "testing"

// BenchmarkDecodeLine measures decoding one full Firecracker line (about
// 6 KiB, every section of v1.16) and reports lines per second.
func BenchmarkDecodeLine(b *testing.B) {
	line := referenceLine(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLine(line); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkConsume measures the reader's whole per-line path: splitting,
// decoding and summing, as one read of a pipe delivers it.
func BenchmarkConsume(b *testing.B) {
	line := append(referenceLine(b), '\n')
	r := &MetricsReader{split: NewSplitter(MaxLineBytes), acc: NewAccumulator()}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		r.consume(line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

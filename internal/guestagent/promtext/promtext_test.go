package promtext

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/promparse"
	dto "github.com/prometheus/client_model/go"
)

func TestWriter(t *testing.T) {
	var w Writer
	w.Family("node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.")
	w.SampleUint(18446744073709551615, "device", "eth0")
	w.SampleUint(7, "device", "we\"ird\\name\n\xff")
	w.Family("node_load1", "gauge", "1m load average.\nsecond \\ line")
	w.Sample(0.5)
	w.Family("x", "gauge", "specials")
	w.Sample(math.NaN())
	w.Sample(math.Inf(1), "a", "1", "b", "2")
	w.Sample(math.Inf(-1))
	w.Sample(1e21)
	want := `# HELP node_network_receive_bytes_total Network device statistic receive_bytes.
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0"} 18446744073709551615
node_network_receive_bytes_total{device="we\"ird\\name\n` + "\uFFFD" + `"} 7
# HELP node_load1 1m load average.\nsecond \\ line
# TYPE node_load1 gauge
node_load1 0.5
# HELP x specials
# TYPE x gauge
x NaN
x{a="1",b="2"} +Inf
x -Inf
x 1e+21
`
	if got := string(w.B); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestParsesWithPrometheus checks escaping against Prometheus's own parser.
func TestParsesWithPrometheus(t *testing.T) {
	var w Writer
	w.Family("fs_size_bytes", "gauge", "help with \\ and \n")
	for _, mp := range []string{"/", "/mnt/a b", `/mnt/q"uote`, "/mnt/back\\slash", "/mnt/nl\nx", "/mnt/\xfe\xff", "/mnt/é"} {
		w.SampleUint(1, "mountpoint", mp)
	}
	families := parse(t, w.B)
	if got := len(families["fs_size_bytes"].GetMetric()); got != 7 {
		t.Fatalf("parsed %d samples, want 7", got)
	}
	var got []string
	for _, m := range families["fs_size_bytes"].GetMetric() {
		got = append(got, m.GetLabel()[0].GetValue())
	}
	want := "/|/mnt/a b|/mnt/q\"uote|/mnt/back\\slash|/mnt/nl\nx|/mnt/\uFFFD\uFFFD|/mnt/é"
	if strings.Join(got, "|") != want {
		t.Errorf("label values %q, want %q", strings.Join(got, "|"), want)
	}
	if !bytes.HasSuffix(w.B, []byte("\n")) {
		t.Error("output does not end in a newline")
	}
}

func parse(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := promparse.Parse(b)
	if err != nil {
		t.Fatalf("Prometheus's parser refused the output: %v\n%s", err, b)
	}
	return families
}

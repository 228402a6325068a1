package firecracker

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// referenceLine is a metrics line as Firecracker v1.16 writes it (every key
// of that version), the template of the Firecracker stand-in's lines.
func referenceLine(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testsupport/fcstandin/metrics-line.json")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// lineBuilder edits the reference line in place, so test lines keep
// Firecracker's exact key order and spacing.
type lineBuilder struct {
	t    testing.TB
	line []byte
}

func newLine(t testing.TB, ts int64) *lineBuilder {
	b := &lineBuilder{t: t, line: referenceLine(t)}
	re := regexp.MustCompile(`^\{"utc_timestamp_ms":[0-9]+`)
	b.line = re.ReplaceAll(b.line, []byte(`{"utc_timestamp_ms":`+strconv.FormatInt(ts, 10)))
	return b
}

// set replaces the value of key inside the top-level section.
func (b *lineBuilder) set(section, key string, v uint64) *lineBuilder {
	b.t.Helper()
	start, end := b.section(section)
	k := []byte(`"` + key + `":`)
	i := bytes.Index(b.line[start:end], k)
	if i < 0 {
		b.t.Fatalf("no %s.%s in the reference line", section, key)
	}
	i += start + len(k)
	j := i
	for j < len(b.line) && b.line[j] >= '0' && b.line[j] <= '9' {
		j++
	}
	b.line = append(b.line[:i:i], append([]byte(strconv.FormatUint(v, 10)), b.line[j:]...)...)
	return b
}

// drop removes a top-level section, as an older Firecracker would lack it.
func (b *lineBuilder) drop(section string) *lineBuilder {
	b.t.Helper()
	start, end := b.section(section)
	keyStart := bytes.LastIndex(b.line[:start], []byte(`,"`+section+`":`))
	b.line = append(b.line[:keyStart:keyStart], b.line[end:]...)
	return b
}

// add inserts a top-level key before the closing brace.
func (b *lineBuilder) add(key, rawValue string) *lineBuilder {
	n := len(b.line) - 1
	b.line = append(b.line[:n:n], []byte(`,"`+key+`":`+rawValue+`}`)...)
	return b
}

// zero sets every counter of the net, block and logger sections to 0.
func (b *lineBuilder) zero() *lineBuilder {
	for _, s := range []string{"net", "net_eth0", "block", "block_rootfs"} {
		for _, k := range []string{"rx_bytes_count", "tx_bytes_count", "rx_packets_count", "tx_packets_count",
			"read_bytes", "write_bytes", "read_count", "write_count", "flush_count"} {
			start, end := b.section(s)
			if bytes.Contains(b.line[start:end], []byte(`"`+k+`":`)) {
				b.set(s, k, 0)
			}
		}
	}
	return b.set("logger", "missed_metrics_count", 0)
}

func (b *lineBuilder) bytes() []byte { return append([]byte(nil), b.line...) }

// section returns the span of the object value of a top-level key.
func (b *lineBuilder) section(name string) (start, end int) {
	b.t.Helper()
	k := []byte(`"` + name + `":{`)
	depth, inString := 0, false
	for i := 0; i < len(b.line); i++ {
		c := b.line[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
			continue
		case c == '"':
			if depth == 1 && bytes.HasPrefix(b.line[i:], k) {
				start = i + len(k) - 1
				return start, start + matchBrace(b.line[start:])
			}
			inString = true
		case c == '{':
			depth++
		case c == '}':
			depth--
		}
	}
	b.t.Fatalf("no section %s", name)
	return 0, 0
}

func matchBrace(p []byte) int {
	depth := 0
	for i, c := range p {
		switch c {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	panic(fmt.Sprintf("unbalanced %q", p))
}

func TestLineBuilderKeepsShape(t *testing.T) {
	l := newLine(t, 42).set("net_eth0", "rx_bytes_count", 7).drop("block").bytes()
	if !bytes.HasPrefix(l, []byte(`{"utc_timestamp_ms":42,"api_server":{`)) {
		t.Fatalf("prefix changed: %.60s", l)
	}
	got, err := DecodeLine(l)
	if err != nil {
		t.Fatal(err)
	}
	if got.Net["eth0"].RxBytes != 7 || got.BlockAll != nil || got.Block["rootfs"].ReadBytes != 1048576 {
		t.Fatalf("builder edits not applied: %+v", got)
	}
}

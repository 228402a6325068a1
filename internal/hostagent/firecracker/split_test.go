package firecracker

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func split(s *Splitter, chunks ...string) []string {
	var out []string
	for _, c := range chunks {
		s.Feed([]byte(c), func(l []byte) { out = append(out, string(l)) })
	}
	return out
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		chunks []string
		want   []string
		long   uint64
	}{
		{"one line", 0, []string{"a\n"}, []string{"a"}, 0},
		{"split across writes", 0, []string{"ab", "c", "d\ne", "f\n"}, []string{"abcd", "ef"}, 0},
		{"several in one", 0, []string{"a\nb\nc\n"}, []string{"a", "b", "c"}, 0},
		{"empty lines and CRLF", 0, []string{"\n\na\r\n\r\n"}, []string{"a"}, 0},
		{"unterminated tail kept", 0, []string{"a\nbc"}, []string{"a"}, 0},
		{"long line in one chunk", 4, []string{"12345\nok\n"}, []string{"ok"}, 1},
		{"long line across chunks", 4, []string{"123", "45", "678", "9\nok\n"}, []string{"ok"}, 1},
		{"exactly max", 4, []string{"1234\n"}, []string{"1234"}, 0},
		{"two long lines", 2, []string{"abc\ndef\nx\n"}, []string{"x"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSplitter(tt.max)
			got := split(s, tt.chunks...)
			if !slices.Equal(got, tt.want) || s.LongLines() != tt.long {
				t.Fatalf("got %q long %d, want %q long %d", got, s.LongLines(), tt.want, tt.long)
			}
		})
	}
}

// TestSplitterChunking checks that how a stream is cut into reads does not
// change the lines it yields.
func TestSplitterChunking(t *testing.T) {
	var stream strings.Builder
	for i := range 200 {
		stream.WriteString(strings.Repeat("x", i%37))
		stream.WriteString(strings.Repeat("y", (i*7)%300))
		stream.WriteByte('\n')
	}
	whole := split(NewSplitter(256), stream.String())
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		s := NewSplitter(256)
		var got []string
		rest := []byte(stream.String())
		for len(rest) > 0 {
			n := min(len(rest), 1+r.IntN(400))
			s.Feed(rest[:n], func(l []byte) { got = append(got, string(l)) })
			rest = rest[n:]
		}
		if !slices.Equal(got, whole) {
			t.Fatalf("chunked split differs: %d lines vs %d", len(got), len(whole))
		}
	}
}

func TestSplitterBoundedMemory(t *testing.T) {
	s := NewSplitter(1 << 10)
	chunk := bytes.Repeat([]byte("z"), 4<<10)
	for range 100 {
		s.Feed(chunk, func([]byte) { t.Fatal("no line expected") })
	}
	if s.Pending() > 1<<10 || s.LongLines() != 1 {
		t.Fatalf("pending %d long %d", s.Pending(), s.LongLines())
	}
	if got := split(s, "\nok\n"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("after long line: %q", got)
	}
}

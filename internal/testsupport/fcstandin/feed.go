package fcstandin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
)

// capturedLine is a metrics line as Firecracker writes it, every group
// and field in its order (metrics-line.json).
//
//go:embed metrics-line.json
var capturedLine []byte

// FeedFIFO makes a FIFO at path and writes to it, every 100 ms until the
// test ends, the captured metrics line as edit leaves it: edit gets the
// line's number n (from 0) and the line decoded afresh, numbers as
// json.Number. It holds the FIFO open read-write as Firecracker holds it,
// so its reader never sees an end of file and it outlives its readers (as
// across a host agent restart).
func FeedFIFO(t testing.TB, path string, edit func(n int, line map[string]any)) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		tick.Every(ctx, 100*time.Millisecond, func() {
			if _, err := f.Write(EditedLine(t, n, edit)); err != nil {
				stop()
			}
			n++
		})
	}()
	t.Cleanup(func() { stop(); f.Close(); <-done })
}

// EditedLine is the captured line as edit(n, line) leaves it, one line
// of JSON ending in a newline.
func EditedLine(t testing.TB, n int, edit func(n int, line map[string]any)) []byte {
	var line map[string]any
	dec := json.NewDecoder(bytes.NewReader(capturedLine))
	dec.UseNumber()
	if err := dec.Decode(&line); err != nil {
		t.Error(err)
		return nil
	}
	edit(n, line)
	out, err := json.Marshal(line)
	if err != nil {
		t.Error(err)
	}
	return append(out, '\n')
}

// SetDeltas sets a line's per-flush counters: the received and sent bytes
// of net and net_eth0, the bytes read and written of block and
// block_rootfs.
func SetDeltas(line map[string]any, rx, tx, read, write int) {
	for _, k := range []string{"net", "net_eth0"} {
		sec := line[k].(map[string]any)
		sec["rx_bytes_count"], sec["tx_bytes_count"] = rx, tx
	}
	for _, k := range []string{"block", "block_rootfs"} {
		sec := line[k].(map[string]any)
		sec["read_bytes"], sec["write_bytes"] = read, write
	}
}

package ui

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"syscall"
	"testing"
	"time"
)

// feedFIFO makes a FIFO at path and writes a Firecracker metrics line,
// shaped as the captured one with per-flush deltas in a wave, every 100 ms
// until the test ends. It holds the FIFO open read-write, as Firecracker
// holds it, so the host agent's reader never sees an end of file.
func feedFIFO(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile("../../internal/testsupport/fcstandin/metrics-line.json")
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(raw, &line); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			w := 1 + math.Sin(float64(n)/40)
			line["utc_timestamp_ms"] = time.Now().UnixMilli()
			for _, k := range []string{"net", "net_eth0"} {
				sec := line[k].(map[string]any)
				sec["rx_bytes_count"], sec["tx_bytes_count"] = int(20000*w)+2000, int(6000*w)+500
			}
			for _, k := range []string{"block", "block_rootfs"} {
				sec := line[k].(map[string]any)
				sec["read_bytes"], sec["write_bytes"] = int(40960*(2-w)), int(16384*w)+4096
			}
			out, _ := json.Marshal(line)
			if _, err := f.Write(append(bytes.TrimSpace(out), '\n')); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); f.Close(); <-done })
}

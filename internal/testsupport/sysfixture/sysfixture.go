// Package sysfixture writes the parts of /sys a test needs into a tree of
// its own, in the kernel's file names and formats.
package sysfixture

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// NetStatFiles are the files of /sys/class/net/<dev>/statistics that the
// host agent reads for a tap.
var NetStatFiles = []string{
	"rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
	"rx_dropped", "tx_dropped", "rx_errors", "tx_errors",
}

// NetStats writes dev's statistics below sys (a /sys tree): each of
// NetStatFiles holds its value in c, 0 when c has none, as the kernel
// writes it (decimal and a newline).
func NetStats(t testing.TB, sys, dev string, c map[string]uint64) {
	t.Helper()
	dir := filepath.Join(sys, "class", "net", dev, "statistics")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range NetStatFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatUint(c[name], 10)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

package vmtable

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// tapFiles are the statistics files read, in the order of tapSample.c.
var tapFiles = [...]string{
	"rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
	"rx_dropped", "tx_dropped", "rx_errors", "tx_errors",
}

const (
	tapRxBytes = iota
	tapTxBytes
	tapRxPackets
	tapTxPackets
	tapRxDropped
	tapTxDropped
	tapRxErrors
	tapTxErrors
)

type tapSample struct {
	c  [len(tapFiles)]uint64
	at time.Time
}

// tapReader samples one tap device's counters from
// <sys>/class/net/<dev>/statistics. The agent's sampling loop calls sample
// every interval; stats may be called concurrently.
type tapReader struct {
	dev string
	dir string

	mu   sync.Mutex
	prev tapSample
	last tapSample
	n    int
	err  error
}

func newTapReader(sysRoot, dev string) *tapReader {
	return &tapReader{dev: dev, dir: filepath.Join(sysRoot, "class", "net", dev, "statistics")}
}

// validTapName applies the kernel's rule for interface names
// (dev_valid_name), so the name is safe to join into a path.
func validTapName(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("tap %q is not an interface name (1 to 15 characters, not . or ..)", name)
	}
	if i := strings.IndexAny(name, "/: \t\n\r\x00"); i >= 0 {
		return fmt.Errorf("tap %q is not an interface name (no '/', ':' or whitespace)", name)
	}
	return nil
}

func (t *tapReader) sample() {
	s := tapSample{at: time.Now()}
	var err error
	for i, name := range tapFiles {
		if s.c[i], err = readCounter(filepath.Join(t.dir, name)); err != nil {
			break
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.err = fmt.Errorf("tap %s: %w", t.dev, err)
		return
	}
	// Counters that went backwards mean the device was recreated: start a
	// new window rather than report a negative rate.
	if t.n > 0 && (s.c[tapRxBytes] < t.last.c[tapRxBytes] || s.c[tapTxBytes] < t.last.c[tapTxBytes]) {
		t.n = 0
	}
	t.err = nil
	t.prev, t.last = t.last, s
	t.n++
}

// stats returns the counters from the guest's point of view, or nil and
// the reason there are none.
func (t *tapReader) stats() (*wire.TapStats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		if t.err == nil {
			return nil, fmt.Errorf("tap %s: not sampled yet", t.dev)
		}
		return nil, t.err
	}
	c := t.last.c
	st := &wire.TapStats{
		Device:         t.dev,
		RxBytesTotal:   c[tapTxBytes],
		TxBytesTotal:   c[tapRxBytes],
		RxPacketsTotal: c[tapTxPackets],
		TxPacketsTotal: c[tapRxPackets],
		RxDroppedTotal: c[tapTxDropped],
		TxDroppedTotal: c[tapRxDropped],
		RxErrorsTotal:  c[tapTxErrors],
		TxErrorsTotal:  c[tapRxErrors],
	}
	if dt := t.last.at.Sub(t.prev.at); t.n >= 2 && dt > 0 {
		sec := dt.Seconds()
		st.RxBytesPerSec = ptr(float64(c[tapTxBytes]-t.prev.c[tapTxBytes]) / sec)
		st.TxBytesPerSec = ptr(float64(c[tapRxBytes]-t.prev.c[tapRxBytes]) / sec)
		st.WindowMs = dt.Milliseconds()
	}
	return st, t.err
}

func readCounter(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", path, err)
	}
	return v, nil
}

func ptr(v float64) *float64 { return &v }

package ui

import (
	"math"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// feedFIFO feeds a FIFO at path the captured line with per-flush deltas
// in a wave every 100 ms until the test ends (see fcstandin.FeedFIFO).
func feedFIFO(t *testing.T, path string) {
	fcstandin.FeedFIFO(t, path, func(n int, line map[string]any) {
		w := 1 + math.Sin(float64(n)/40)
		line["utc_timestamp_ms"] = time.Now().UnixMilli()
		fcstandin.SetDeltas(line, int(20000*w)+2000, int(6000*w)+500, int(40960*(2-w)), int(16384*w)+4096)
	})
}

package collector

import (
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// TestDecodeGuestRequiresOriginalFields checks the one-pass decoding: each
// of the original agent's six fields must be present and not null, and the
// decoded figures are those of the document.
func TestDecodeGuestRequiresOriginalFields(t *testing.T) {
	m, perr := decodeGuest([]byte(goodGuestJSON))
	if perr != nil {
		t.Fatalf("good document: %v", perr)
	}
	if m.CPUUsagePercent != 12.5 || m.MemoryUsagePercent != 50 || m.MemoryUsedKB != 1000 {
		t.Errorf("decoded %+v, want the document's figures", m)
	}
	for _, field := range []string{"cpu_usage_percent", "memory_usage_percent", "memory_used_kb",
		"memory_total_kb", "memory_available_kb", "uptime_seconds"} {
		for _, tc := range []struct{ name, doc string }{
			{"null", nullField(t, field)},
			{"missing", strings.Replace(nullField(t, field), `"`+field+`":null,`, "", 1)},
		} {
			_, perr := decodeGuest([]byte(tc.doc))
			if perr == nil || perr.Reason != agentclient.ReasonBadJSON || !strings.Contains(perr.Error(), field) {
				t.Errorf("%s %s: got %v, want a %s error naming it", tc.name, field, perr, agentclient.ReasonBadJSON)
			}
		}
	}
}

// nullField is goodGuestJSON with field set to null, followed by a comma.
func nullField(t *testing.T, field string) string {
	t.Helper()
	doc := `{"cpu_usage_percent":12.5,"memory_usage_percent":50,"memory_used_kb":1000,` +
		`"memory_total_kb":2000,"memory_available_kb":1000,"uptime_seconds":60,"timestamp_ms":1}`
	i := strings.Index(doc, `"`+field+`":`)
	if i < 0 {
		t.Fatalf("no %s in the fixture", field)
	}
	end := i + strings.IndexAny(doc[i:], ",}")
	return doc[:i] + `"` + field + `":null` + doc[end:]
}

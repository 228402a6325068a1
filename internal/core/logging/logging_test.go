package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var b bytes.Buffer
	log, err := New(&b, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["msg"] != "shown" || line["k"] != float64(1) {
		t.Errorf("json output %q (%v)", b.String(), err)
	}
	b.Reset()
	if log, err = New(&b, "DEBUG", "Text"); err != nil {
		t.Fatal(err)
	}
	log.Debug("x")
	if !strings.Contains(b.String(), "level=DEBUG msg=x") {
		t.Errorf("text output %q", b.String())
	}
	for _, bad := range [][2]string{{"loud", "text"}, {"info", "xml"}} {
		if _, err := New(&b, bad[0], bad[1]); err == nil {
			t.Errorf("New(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

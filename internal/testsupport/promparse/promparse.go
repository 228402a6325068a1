// Package promparse checks exposition text with Prometheus's own parser. It
// is for tests only: importing it from a program would link the Prometheus
// libraries into it.
package promparse

import (
	"bytes"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse parses b in the text format 0.0.4 as a Prometheus server does and
// returns its metric families by name.
func Parse(b []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

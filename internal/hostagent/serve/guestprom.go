package serve

import (
	"bytes"
	"context"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// guestGatherer adds every VM's guest series to the host agent's /metrics:
// at each scrape it asks each guest agent for its Prometheus text (on the
// poller's kept connection, up to guestScrapeConcurrency at a time), adds
// the label vm_id to every series and merges the families, so one scrape
// of the host covers the guests under node_exporter's names. A guest that
// does not answer within the scrape's budget is left out of that scrape.
type guestGatherer struct{ a *api }

const guestScrapeConcurrency = 32

func (g guestGatherer) Gather() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), min(g.a.Interval*8/10, 5*time.Second))
	defer cancel()
	vms := g.a.Host.VMs()
	type result struct {
		id       string
		families map[string]*dto.MetricFamily
	}
	results := make([]result, len(vms))
	sem := make(chan struct{}, guestScrapeConcurrency)
	var wg sync.WaitGroup
	for i, v := range vms {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			text, err := v.GuestProm(ctx)
			if err != nil {
				return
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
			if err != nil {
				g.a.Log.Debug("a guest agent's Prometheus text does not parse", "vm_id", v.ID(), "err", err)
				return
			}
			results[i] = result{v.ID(), fams}
		})
	}
	wg.Wait()
	merged := map[string]*dto.MetricFamily{}
	var order []string
	for _, r := range results {
		for name, f := range r.families {
			for _, m := range f.Metric {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("vm_id"), Value: proto.String(r.id)})
			}
			if into, ok := merged[name]; ok && into.GetType() == f.GetType() {
				into.Metric = append(into.Metric, f.Metric...)
				continue
			} else if ok {
				continue // a guest disagreeing on a family's type is left out
			}
			merged[name] = f
			order = append(order, name)
		}
	}
	out := make([]*dto.MetricFamily, 0, len(order))
	for _, name := range order {
		out = append(out, merged[name])
	}
	return out, nil
}

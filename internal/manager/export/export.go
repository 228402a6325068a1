// Package export serves the manager's Prometheus /metrics: every VM's
// latest combined sample, read at scrape time, beside the manager's own
// figures (polls, samples, rollups, WebSocket clients) and its Go runtime
// and process metrics. It uses its own registry, never the global one.
package export

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/manager/collector"
)

// Labeled is one VM's latest sample with the name the registry knows it by.
type Labeled struct {
	VMID   string
	VMName string
	HostID string     // the host agent reporting it; "" for a VM polled directly
	Labels labels.Set // its merged labels, on fcmon_vm_info
	Sample wire.CombinedSample
}

// Metrics records the manager's own figures. Its methods are safe for
// concurrent use and cheap enough to call from the collector's hooks.
type Metrics struct {
	pollDuration *prometheus.HistogramVec
	pollFailures *prometheus.CounterVec
	samples      prometheus.Counter
	rollups      prometheus.Counter
	events       *prometheus.CounterVec
}

// pollKinds and pollReasons are the label values known in advance; their
// series start at zero so that rate() and increase() see the first failure.
var (
	pollKinds   = []string{collector.KindGuest, collector.KindProcess, collector.KindStats, collector.KindAttach, collector.KindSamples}
	pollReasons = agentclient.Reasons
)

// NewRegistry builds the manager's registry and the handler serving it.
//
// latest is called once per scrape and returns every VM that has a sample
// (VMs without one are left out); it must not block for long, and each
// VMID must appear once. hubStats, called once per scrape, reports the
// WebSocket hub's connected clients and the total dropped as too slow; nil
// leaves those two metrics out.
//
// The handler answers in whatever exposition format the scraper asks for
// (text 0.0.4 by default). A metric that cannot be built is skipped and
// counted in promhttp_metric_handler_errors_total; the rest is served.
//
// copyLabels are the VM labels copied onto every VM series
// (--prometheus-labels); every label is on fcmon_vm_info{vm_id, vm_name,
// host, ...} for joins.
func NewRegistry(latest func() []Labeled, hubStats func() (subscribers int, dropped uint64), copyLabels []string) (*Metrics, *Handler) {
	m := &Metrics{
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fcmon_poll_duration_seconds",
			Help: "Time taken by the collector's requests to guest and host agents, failed ones included, by kind.",
			// Requests end by the poll timeout (below the 1s default interval).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind"}),
		pollFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fcmon_poll_failures_total",
			Help: "Failed collector requests, by kind and reason.",
		}, []string{"kind", "reason"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fcmon_samples_total",
			Help: "Combined samples produced by the collector.",
		}),
		rollups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fcmon_rollups_written_total",
			Help: "One-minute rollups written to the database.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fcmon_events_total",
			Help: "Events seen since the manager started, by type (restore, reboot, oom_kill, vmm_exit, source_change, agent_restart, clock_skew, cross_check, id_clash, cpu_throttled, memory_limit).",
		}, []string{"type"}),
	}
	for _, t := range wire.EventTypes {
		m.events.WithLabelValues(t)
	}
	for _, k := range pollKinds {
		m.pollDuration.WithLabelValues(k)
		for _, r := range pollReasons {
			m.pollFailures.WithLabelValues(k, r)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		m.pollDuration, m.pollFailures, m.samples, m.rollups, m.events,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fcmon_build_info", Help: "Version of the manager.",
			ConstLabels: prometheus.Labels{"version": version.Version},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if hubStats != nil {
		reg.MustRegister(newHubCollector(hubStats))
	}
	vms := prometheus.NewRegistry()
	vms.MustRegister(newVMCollector(latest, copyLabels), infoCollector{latest})
	opts := promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // counts errors in promhttp_metric_handler_errors_total
	}
	h := &Handler{latest: latest, copy: copyLabels, opts: opts,
		all:  promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(prometheus.Gatherers{reg, vms}, opts)),
		self: promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, opts))}
	return m, h
}

// Handler serves /metrics: everything, or a scoped caller's VMs.
type Handler struct {
	latest    func() []Labeled
	copy      []string
	opts      promhttp.HandlerOpts
	all, self http.Handler
}

// ServeHTTP serves every series. ?vms=false leaves the VM series out:
// with a hundred thousand VMs they are millions of lines, which a scrape
// of the manager's own health does not want (scrape the host agents for
// them instead).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("vms") == "false" {
		h.self.ServeHTTP(w, r)
		return
	}
	h.all.ServeHTTP(w, r)
}

// ServeMetrics serves the series of the VMs keep takes, and only those
// (none of the manager's own): what a token scoped to some VMs may see.
// A nil keep is ServeHTTP.
func (h *Handler) ServeMetrics(w http.ResponseWriter, r *http.Request, keep func(vmID string) bool) {
	if keep == nil {
		h.ServeHTTP(w, r)
		return
	}
	kept := func() []Labeled {
		all := h.latest()
		out := all[:0:0]
		for _, vm := range all {
			if keep(vm.VMID) {
				out = append(out, vm)
			}
		}
		return out
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newVMCollector(kept, h.copy), infoCollector{kept})
	opts := h.opts
	opts.Registry = nil
	promhttp.HandlerFor(reg, opts).ServeHTTP(w, r)
}

// ObservePoll records one collector request: its latency under its kind,
// and a failure under kind and reason when Reason is set. It fits
// collector.Options.OnPoll.
func (m *Metrics) ObservePoll(r collector.PollResult) {
	m.pollDuration.WithLabelValues(r.Kind).Observe(r.Latency.Seconds())
	if r.Reason != "" {
		m.pollFailures.WithLabelValues(r.Kind, r.Reason).Inc()
	}
}

// Event counts one event of type typ.
func (m *Metrics) Event(typ string) { m.events.WithLabelValues(typ).Inc() }

// SampleProduced counts one combined sample; call it from
// collector.Options.OnSample.
func (m *Metrics) SampleProduced() { m.samples.Inc() }

// RollupsWritten counts n rollups written to the database; n <= 0 is
// ignored.
func (m *Metrics) RollupsWritten(n int) {
	if n > 0 {
		m.rollups.Add(float64(n))
	}
}

// hubCollector exports the WebSocket hub's figures, reading both at once.
type hubCollector struct {
	stats              func() (int, uint64)
	subscribers, drops *prometheus.Desc
}

func newHubCollector(stats func() (int, uint64)) *hubCollector {
	return &hubCollector{
		stats:       stats,
		subscribers: prometheus.NewDesc("fcmon_websocket_subscribers", "WebSocket clients connected, per-VM and all-VM streams.", nil, nil),
		drops:       prometheus.NewDesc("fcmon_websocket_dropped_total", "WebSocket clients disconnected for falling behind.", nil, nil),
	}
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.subscribers
	ch <- c.drops
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	n, dropped := c.stats()
	ch <- prometheus.MustNewConstMetric(c.subscribers, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(dropped))
}

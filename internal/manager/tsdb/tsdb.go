// Package tsdb reads a VM's history from a Prometheus-compatible query API
// (Prometheus, VictoriaMetrics, Mimir, Thanos: the manager's --history-url)
// that scrapes the host agents and guest agents GET /v1/prometheus/sd
// lists. It turns the raw series into the manager's figures with the
// PromQL of docs/prometheus/fcmon-rules.yml and answers the same points as
// the embedded rollups, each figure with its source: CPU from the guest,
// else the vCPU threads, else the VMM process; memory from the guest, else
// the VMM's resident set; network and disk from Firecracker, else the
// guest.
package tsdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// Series names a VM's series in the TSDB. A VM read through a host agent
// is {host="<host id>", vm_id="<its id at the host agent>"} (the host
// label comes from the service discovery, vm_id from the host agent's
// /metrics); a guest polled directly is {vm_id="<manager's id>"}.
type Series struct {
	Host string
	VMID string
}

// selector is the label matchers of s, quoted for PromQL.
func (s Series) selector() string {
	sel := fmt.Sprintf("vm_id=%q", s.VMID)
	if s.Host != "" {
		sel = fmt.Sprintf("host=%q,%s", s.Host, sel)
	}
	return sel
}

// Bounds of what a TSDB may make the manager hold: a TSDB that answers
// without end, or slowly, costs at most this much.
const (
	// MaxAnswerBytes bounds one query's answer.
	MaxAnswerBytes = 2 << 20 // 11,000 points of one series take about 300 KB
	// MaxPoints bounds the points one query asks for (Prometheus's own
	// limit per series) and may answer.
	MaxPoints = 11000
	// MaxConns bounds the connections open to the TSDB at once; queries
	// beyond them wait for one.
	MaxConns = 4
)

// ErrTooManyPoints is returned for a range and step that ask for over
// MaxPoints points.
var ErrTooManyPoints = errors.New("too many points")

// Client queries one Prometheus-compatible API.
type Client struct {
	api     v1.API
	timeout time.Duration
}

// New checks rawURL (http or https, no userinfo, query or fragment) and
// returns a client that dials only addresses allow lets through (checked
// on the address dialled, so a name cannot rebind past it).
func New(rawURL string, allow netpolicy.List) (*Client, error) {
	u, err := netpolicy.ParseAgentURL("--history-url", rawURL)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: allow.Control}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: MaxConns, MaxConnsPerHost: MaxConns,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10}
	c, err := api.NewClient(api.Config{Address: u, RoundTripper: boundedBodies{tr}})
	if err != nil {
		return nil, fmt.Errorf("--history-url %s: %w", u, err)
	}
	return &Client{api: v1.NewAPI(c), timeout: 30 * time.Second}, nil
}

// figure is one query of a point's field, by source.
type figure struct {
	source string
	expr   string // with %[1]s the selector and %[2]s the rate window
	set    func(p *wire.HistoryPoint, v float64)
}

func ptr(v float64) *float64 { return &v }

// The figures, best source first within each group. The expressions are
// those of docs/prometheus/fcmon-rules.yml with the VM's selector.
var (
	cpuFigures = []figure{
		{wire.SourceGuest, `100 * (1 - sum(rate(node_cpu_seconds_total{%[1]s,mode=~"idle|iowait"}[%[2]s])) / sum(rate(node_cpu_seconds_total{%[1]s}[%[2]s])))`,
			func(p *wire.HistoryPoint, v float64) { p.CPUUsagePercent = ptr(v) }},
		{wire.SourceVCPU, `clamp_max(100 * sum(rate(host_agent_vcpu_seconds_total{%[1]s}[%[2]s])) / max(host_agent_vcpus{%[1]s}), 100)`,
			func(p *wire.HistoryPoint, v float64) { p.CPUUsagePercent = ptr(v) }},
		{wire.SourceHost, `clamp_max(100 * sum(rate(host_agent_cpu_seconds_total{%[1]s}[%[2]s])) / max(host_agent_vcpus{%[1]s}), 100)`,
			func(p *wire.HistoryPoint, v float64) { p.CPUUsagePercent = ptr(v) }},
	}
	memFigures = []figure{
		{wire.SourceGuest, `avg_over_time(node_memory_MemTotal_bytes{%[1]s}[%[2]s]) - avg_over_time(node_memory_MemAvailable_bytes{%[1]s}[%[2]s])`,
			func(p *wire.HistoryPoint, v float64) { p.MemoryUsedKB = ptr(v / 1024) }},
		{wire.SourceHost, `avg_over_time(host_agent_memory_rss_bytes{%[1]s}[%[2]s])`,
			func(p *wire.HistoryPoint, v float64) { p.MemoryUsedKB = ptr(v / 1024) }},
	}
	memTotal = figure{wire.SourceGuest, `avg_over_time(node_memory_MemTotal_bytes{%[1]s}[%[2]s])`,
		func(p *wire.HistoryPoint, v float64) { p.MemoryTotalKB = ptr(v / 1024) }}
	netFigures = [][2]figure{
		{{wire.RatesFirecracker, `sum(rate(host_agent_network_receive_bytes_total{%[1]s}[%[2]s]))`,
			func(p *wire.HistoryPoint, v float64) { p.NetRxBytesPerSec = ptr(v) }},
			{wire.RatesFirecracker, `sum(rate(host_agent_network_transmit_bytes_total{%[1]s}[%[2]s]))`,
				func(p *wire.HistoryPoint, v float64) { p.NetTxBytesPerSec = ptr(v) }}},
		{{wire.RatesGuest, `sum(rate(node_network_receive_bytes_total{%[1]s,device!="lo"}[%[2]s]))`,
			func(p *wire.HistoryPoint, v float64) { p.NetRxBytesPerSec = ptr(v) }},
			{wire.RatesGuest, `sum(rate(node_network_transmit_bytes_total{%[1]s,device!="lo"}[%[2]s]))`,
				func(p *wire.HistoryPoint, v float64) { p.NetTxBytesPerSec = ptr(v) }}},
	}
	diskFigures = [][2]figure{
		{{wire.RatesFirecracker, `sum(rate(host_agent_block_read_bytes_total{%[1]s}[%[2]s]))`,
			func(p *wire.HistoryPoint, v float64) { p.DiskReadBytesPerSec = ptr(v) }},
			{wire.RatesFirecracker, `sum(rate(host_agent_block_written_bytes_total{%[1]s}[%[2]s]))`,
				func(p *wire.HistoryPoint, v float64) { p.DiskWriteBytesPerSec = ptr(v) }}},
		{{wire.RatesGuest, `sum(rate(node_disk_read_bytes_total{%[1]s}[%[2]s]))`,
			func(p *wire.HistoryPoint, v float64) { p.DiskReadBytesPerSec = ptr(v) }},
			{wire.RatesGuest, `sum(rate(node_disk_written_bytes_total{%[1]s}[%[2]s]))`,
				func(p *wire.HistoryPoint, v float64) { p.DiskWriteBytesPerSec = ptr(v) }}},
	}
)

// Query answers the VM's points from sinceMs to untilMs, one per stepMs
// (at least a second), each figure from the best source with data at
// that step. A point without any figure is left out.
func (c *Client) Query(ctx context.Context, s Series, sinceMs, untilMs, stepMs int64) ([]wire.HistoryPoint, error) {
	if s.VMID == "" {
		return nil, errors.New("tsdb: no series for this VM")
	}
	step := max(time.Duration(stepMs)*time.Millisecond, time.Second)
	if n := (untilMs-sinceMs)/step.Milliseconds() + 1; n > MaxPoints {
		return nil, fmt.Errorf("%w: %d steps of %s, at most %d a query: widen the step", ErrTooManyPoints, n, step, MaxPoints)
	}
	// The rate window: the step, and at least a minute so that a scrape
	// interval of up to 30 s still gives two samples in it.
	window := model.Duration(max(step, time.Minute)).String()
	r := v1.Range{Start: time.UnixMilli(sinceMs).Truncate(step).Add(step), End: time.UnixMilli(untilMs), Step: step}
	sel := s.selector()

	// Every figure's query, at once; merge reads each answer by its figure.
	all := []*figure{&memTotal}
	for _, g := range [][]figure{cpuFigures, memFigures} {
		for i := range g {
			all = append(all, &g[i])
		}
	}
	for _, g := range [][][2]figure{netFigures, diskFigures} {
		for i := range g {
			all = append(all, &g[i][0], &g[i][1])
		}
	}
	results := make(map[*figure]map[int64]float64, len(all))
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, f := range all {
		wg.Go(func() {
			m, err := c.rangeQuery(ctx, fmt.Sprintf(f.expr, sel, window), r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			results[f] = m
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return merge(results), nil
}

// merge builds the points from each figure's values: per timestamp, CPU
// and memory from the first figure of their group with a value (its source
// named), network and disk from the first pair with one.
func merge(results map[*figure]map[int64]float64) []wire.HistoryPoint {
	byTS := map[int64]*wire.HistoryPoint{}
	point := func(ts int64) *wire.HistoryPoint {
		p := byTS[ts]
		if p == nil {
			p = &wire.HistoryPoint{TimestampMs: ts, Source: wire.SourceNone, MemorySource: wire.SourceNone}
			byTS[ts] = p
		}
		return p
	}
	first := func(group []figure, into func(p *wire.HistoryPoint, source string)) {
		done := map[int64]bool{}
		for i := range group {
			f := &group[i]
			for ts, v := range results[f] {
				if !done[ts] {
					done[ts] = true
					p := point(ts)
					f.set(p, v)
					into(p, f.source)
				}
			}
		}
	}
	first(cpuFigures, func(p *wire.HistoryPoint, src string) { p.Source = src })
	first(memFigures, func(p *wire.HistoryPoint, src string) { p.MemorySource = src })
	for ts, v := range results[&memTotal] { // the guest's total, with the guest's used memory only
		if p := byTS[ts]; p != nil && p.MemorySource == wire.SourceGuest && v > 0 {
			memTotal.set(p, v)
			p.MemoryUsagePercent = ptr(100 * *p.MemoryUsedKB / *p.MemoryTotalKB)
		}
	}
	for _, g := range [][][2]figure{netFigures, diskFigures} {
		done := map[int64]bool{}
		for i := range g {
			rx, tx := &g[i][0], &g[i][1]
			for ts, v := range results[rx] {
				if !done[ts] {
					done[ts] = true
					p := point(ts)
					rx.set(p, v)
					if w, ok := results[tx][ts]; ok {
						tx.set(p, w)
					}
				}
			}
		}
	}
	out := make([]wire.HistoryPoint, 0, len(byTS))
	for _, p := range byTS {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b wire.HistoryPoint) int { return cmp.Compare(a.TimestampMs, b.TimestampMs) })
	return out
}

// rangeQuery runs one range query whose answer is at most one series, and
// returns its values by Unix ms.
func (c *Client) rangeQuery(ctx context.Context, q string, r v1.Range) (map[int64]float64, error) {
	val, _, _, err := c.api.QueryRange(ctx, q, r)
	if err != nil {
		return nil, fmt.Errorf("tsdb query: %w", classify(err))
	}
	out := map[int64]float64{}
	mat, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("tsdb query: answered a %s, not a matrix", val.Type())
	}
	n := 0
	for _, ss := range mat {
		if n += len(ss.Values); n > MaxPoints {
			return nil, fmt.Errorf("tsdb query: answered over %d points", MaxPoints)
		}
		for _, sp := range ss.Values {
			v := float64(sp.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			out[int64(sp.Timestamp)] = v
		}
	}
	return out, nil
}

// classify keeps an error's class, not the remote's words beyond a short
// excerpt (the TSDB's answer is the operator's, but a proxy's may not be).
func classify(err error) error {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return errors.New(strings.ToValidUTF8(msg, "?"))
}

// boundedBodies cuts every answer's body off after MaxAnswerBytes.
type boundedBodies struct{ rt http.RoundTripper }

func (b boundedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := b.rt.RoundTrip(r)
	if err == nil {
		res.Body = &boundedBody{ReadCloser: res.Body, left: MaxAnswerBytes}
	}
	return res, err
}

type boundedBody struct {
	io.ReadCloser
	left int64
}

var errAnswerTooLarge = fmt.Errorf("the answer exceeds %d bytes", MaxAnswerBytes)

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

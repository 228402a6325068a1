// Command footprint measures the guest agent as a user would meet it, side
// by side with node_exporter run with its defaults: the binary's size, the
// resident memory idle and after 10,000 requests, the CPU use while idle,
// and request throughput and latency over loopback. Each figure is the
// median of several instances of each program measured in the same run. It
// prints a Markdown section for docs/benchmarks.md.
//
// node_exporter's /metrics costs about a hundred times more than the guest
// agent's, so its loads are bounded in time as well as in count, and the
// table says how many requests it got through.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

func main() {
	var c config
	flag.StringVar(&c.agentBin, "bin", "bin/guest-agent", "guest agent binary")
	flag.StringVar(&c.neBin, "node-exporter", "", "node_exporter binary to compare with (none: guest agent only)")
	flag.StringVar(&c.neName, "node-exporter-name", "node_exporter", "node_exporter's name and version for the table")
	flag.IntVar(&c.runs, "runs", 3, "instances of each program measured (the median is reported)")
	flag.DurationVar(&c.idle, "idle", 60*time.Second, "idle period for the CPU figure")
	flag.DurationVar(&c.loadMax, "load-max", 8*time.Second, "longest a single load may last (node_exporter stops short of its count)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

type config struct {
	agentBin, neBin, neName string
	runs                    int
	idle, loadMax           time.Duration
}

// result is one instance's figures.
type result struct {
	rssStartKB, rssAfterKB       float64
	rssIdleKB, rssSettledAfterKB float64
	idleCPUPercent               float64
	reqPerSec1, reqPerSec16      float64
	p50us, p99us                 float64
	requestsA, requestsB         float64 // requests done in the two 10,000-request loads
}

// program is one program under test, several instances of it.
type program struct {
	name    string
	size    int64
	procs   []*process
	results []result
}

func run(c config) error {
	progs := []*program{{name: "guest agent"}}
	starts := []func() (*process, error){func() (*process, error) { return startAgent(c.agentBin) }}
	if c.neBin != "" {
		progs = append(progs, &program{name: c.neName})
		starts = append(starts, func() (*process, error) { return startNodeExporter(c.neBin) })
	}
	for i, p := range progs {
		bin := c.agentBin
		if i == 1 {
			bin = c.neBin
		}
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		p.size = st.Size()
		p.results = make([]result, c.runs)
		for range c.runs {
			proc, err := starts[i]()
			if err != nil {
				return err
			}
			defer proc.stop()
			p.procs = append(p.procs, proc)
		}
	}
	time.Sleep(3 * time.Second) // the first samples
	// Fresh instances under 10,000 requests, one at a time so that they do
	// not compete for the cores.
	for _, p := range progs {
		for i, proc := range p.procs {
			r := &p.results[i]
			r.rssStartKB = float64(machine.RSSKB(proc.pid()))
			lat, rate, err := load(proc.addr, 1, 10000, c.loadMax)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			r.reqPerSec1, r.requestsA = rate, float64(len(lat))
			r.p50us = float64(percentile(lat, 50).Microseconds())
			r.p99us = float64(percentile(lat, 99).Microseconds())
			r.rssAfterKB = float64(machine.RSSKB(proc.pid()))
		}
	}
	// Idle CPU, every instance at once, then the settled footprint.
	var wg sync.WaitGroup
	for _, p := range progs {
		for i, proc := range p.procs {
			wg.Go(func() {
				m := machine.StartCPU(proc.pid())
				time.Sleep(c.idle)
				p.results[i].idleCPUPercent = m.Percent()
				p.results[i].rssIdleKB = float64(machine.RSSKB(proc.pid()))
			})
		}
	}
	wg.Wait()
	for _, p := range progs {
		for i, proc := range p.procs {
			r := &p.results[i]
			lat, _, err := load(proc.addr, 1, 10000, c.loadMax)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			r.requestsB = float64(len(lat))
			r.rssSettledAfterKB = float64(machine.RSSKB(proc.pid()))
			if _, r.reqPerSec16, err = load(proc.addr, 16, 20000, c.loadMax/2); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
	}
	printTable(c, progs)
	return nil
}

func printTable(c config, progs []*program) {
	head, rule := "| figure |", "|---|"
	for _, p := range progs {
		head += " " + p.name + " |"
		rule += "---|"
	}
	fmt.Println(head + " goal |")
	fmt.Println(rule + "---|")
	row := func(name, goal string, cell func(p *program) string) {
		var b strings.Builder
		b.WriteString("| " + name + " |")
		for _, p := range progs {
			b.WriteString(" " + cell(p) + " |")
		}
		fmt.Println(b.String() + " " + goal + " |")
	}
	kib := func(f func(result) float64) func(p *program) string {
		return func(p *program) string { return fmt.Sprintf("%.0f KiB", med(p, f)) }
	}
	row("binary size", "smaller; ≤ 2,306,867 bytes (2.2 MiB)", func(p *program) string {
		return fmt.Sprintf("%d bytes (%.2f MiB)", p.size, float64(p.size)/(1<<20))
	})
	row("RSS 3 s after start", "", kib(func(r result) float64 { return r.rssStartKB }))
	row("RSS after 10,000 requests to a fresh instance", "≤ 4 MB", kib(func(r result) float64 { return r.rssAfterKB }))
	row(fmt.Sprintf("RSS idle after a further %s", c.idle), "≤ 3 MB (3,072 KiB)", kib(func(r result) float64 { return r.rssIdleKB }))
	row("RSS after 10,000 more requests", "≤ 4 MB", kib(func(r result) float64 { return r.rssSettledAfterKB }))
	row(fmt.Sprintf("CPU while idle over %s", c.idle), "≤ 0.05 % of a core", func(p *program) string {
		return fmt.Sprintf("%.3f %% of a core", med(p, func(r result) float64 { return r.idleCPUPercent }))
	})
	row("requests/s, 1 keep-alive connection", "", func(p *program) string {
		return fmt.Sprintf("%.0f", med(p, func(r result) float64 { return r.reqPerSec1 }))
	})
	row("requests/s, 16 keep-alive connections", "", func(p *program) string {
		return fmt.Sprintf("%.0f", med(p, func(r result) float64 { return r.reqPerSec16 }))
	})
	row("latency p50 / p99, 1 connection", "", func(p *program) string {
		return fmt.Sprintf("%s / %s", us(med(p, func(r result) float64 { return r.p50us })), us(med(p, func(r result) float64 { return r.p99us })))
	})
	row("requests in each \"10,000 requests\" load", "", func(p *program) string {
		return fmt.Sprintf("%.0f / %.0f", med(p, func(r result) float64 { return r.requestsA }), med(p, func(r result) float64 { return r.requestsB }))
	})
	fmt.Printf("\nMedian of %d instances of each program, measured in the same run; `GET /metrics` over 127.0.0.1\n"+
		"from a Go client on the same machine (the guest agent answers JSON, node_exporter Prometheus text).\n"+
		"Each load stops after %s (%s for 16 connections) even short of its request count, which only\n"+
		"node_exporter ever is; the last row shows how many requests each got.\n", c.runs, c.loadMax, c.loadMax/2)
}

func med(p *program, f func(result) float64) float64 {
	v := make([]float64, len(p.results))
	for i, r := range p.results {
		v[i] = f(r)
	}
	return machine.Median(v)
}

func us(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// Command scale measures the manager polling a fleet of simulated guest
// agents (test/bench/fleet) at a 1 s poll interval: for each fleet size it
// reports the manager's CPU and RSS, the age of the newest sample per VM, the
// failed polls and the rollup rows written per second, and the fleet's own
// CPU, as Markdown table rows. With -subscribers it instead measures the
// all-VM WebSocket stream fanned out to that many clients. Loopback only; the
// whole run is bounded by -max. Bench-only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type config struct {
	managerBin, fleetBin string
	dbURL, dbLabel       string
	sizes                []int
	windows              int
	window, warmup       time.Duration
	subscribers          int
	header               bool
	workDir              string
	perHost              int // > 0: VMs come through simulated host agents of this many VMs each
}

func main() {
	var c config
	var sizes string
	var maxRun time.Duration
	flag.StringVar(&c.managerBin, "manager", "bin/manager", "manager binary")
	flag.StringVar(&c.fleetBin, "fleet", "", "fleet binary (go build ./test/bench/fleet)")
	flag.StringVar(&c.dbURL, "db", "sqlite:fcmon.db", "the manager's --database-url")
	flag.StringVar(&c.dbLabel, "label", "SQLite", "database name for the table")
	flag.StringVar(&sizes, "sizes", "1000,5000,10000", "fleet sizes, ascending; VMs are added between sizes")
	flag.IntVar(&c.windows, "windows", 3, "measurement windows per size (the median is reported)")
	flag.DurationVar(&c.window, "window", 10*time.Second, "length of a measurement window")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "wait after every VM has a sample before measuring")
	flag.IntVar(&c.subscribers, "subscribers", 0, "measure the all-VM WebSocket stream with this many clients at the first size")
	flag.BoolVar(&c.header, "header", false, "print the table header")
	flag.IntVar(&c.perHost, "per-host", 0, "collect the VMs through simulated host agents of this many VMs each (POST /v1/hosts) instead of polling guests directly")
	flag.DurationVar(&maxRun, "max", 5*time.Minute, "give up after this long")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "scale: -sizes %q: want positive integers\n", sizes)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxRun)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "fcmon-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c.workDir = dir
	n := c.sizes[len(c.sizes)-1]
	fl, err := startFleet(ctx, c.fleetBin, n, c.perHost)
	if err != nil {
		return err
	}
	defer fl.stop()
	m, err := startManager(ctx, c, dir)
	if err != nil {
		return err
	}
	defer m.stop()
	if c.subscribers > 0 {
		return fanout(ctx, c, m, fl)
	}
	if c.header {
		fmt.Println("| database | VMs | collected | manager CPU | manager RSS | sample age p50 / p99 | failed polls | rows written/s in the windows | latest rollup batch | fleet CPU | load 1m |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	}
	how := "each guest"
	if c.perHost > 0 {
		how = fmt.Sprintf("%d hosts × %d", n/c.perHost, c.perHost)
	}
	registered := 0
	for _, size := range c.sizes {
		t := time.Now()
		reg := m.register
		if c.perHost > 0 {
			reg = func(ctx context.Context, from, to int) error { return m.addHosts(ctx, from/c.perHost, to/c.perHost) }
			how = fmt.Sprintf("%d host agents", size/c.perHost)
		}
		if err := reg(ctx, registered, size); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "scale: %s: %d VMs registered in %s\n", c.dbLabel, size-registered, time.Since(t).Round(time.Millisecond))
		registered = size
		r, err := measureScale(ctx, c, m, fl, size)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %s | %.0f %% | %.0f MiB | %.2f s / %.2f s | %d of %d | %.0f | %s | %.0f %% | %.2f |\n",
			c.dbLabel, size, how, r.cpu, r.rssMiB, r.ageP50, r.ageP99, r.failed, r.polls, r.rowsPerSec, r.batch, r.fleetCPU, r.load)
	}
	if warns := m.warnings(); warns != "" {
		fmt.Fprintf(os.Stderr, "scale: manager warnings:\n%s", warns)
	}
	return nil
}

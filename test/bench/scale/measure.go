package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

// scaleResult is one fleet size's figures: CPU and ages are medians over
// the windows, counters span all of them.
type scaleResult struct {
	cpu, fleetCPU, rssMiB float64
	ageP50, ageP99        float64
	failed, polls         int
	rowsPerSec, load      float64
	batch                 batch // the latest rollup batch by the end
}

const (
	mFailures = "fcmon_poll_failures_total"
	mPolls    = "fcmon_poll_duration_seconds_count"
	mRollups  = "fcmon_rollups_written_total"
	mDropped  = "fcmon_websocket_dropped_total"
	mSubs     = "fcmon_websocket_subscribers"
)

// settle waits until every one of n VMs has guest figures (at most 60 s
// and a second per 2,000 VMs), then for the warm-up.
func settle(ctx context.Context, c config, m *manager, n int) error {
	limit := 60*time.Second + time.Duration(n/2000)*time.Second
	deadline := time.Now().Add(limit)
	for {
		ages, missing, err := m.ages(ctx)
		if err != nil {
			return err
		}
		if len(ages) >= n && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d VMs still without a sample after %s", n-len(ages), n, limit)
		}
		if !machine.Sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	if !machine.Sleep(ctx, c.warmup) {
		return ctx.Err()
	}
	return nil
}

func measureScale(ctx context.Context, c config, m *manager, fl *fleet, n int) (scaleResult, error) {
	var r scaleResult
	if err := settle(ctx, c, m, n); err != nil {
		return r, err
	}
	r.load = machine.Load1()
	before, err := m.counters(ctx, mFailures, mPolls, mRollups)
	if err != nil {
		return r, err
	}
	start := time.Now()
	var cpu, fleetCPU, p50, p99 []float64
	for range c.windows {
		// The CPU window holds no request of the benchmark's; the ages
		// are read after it (GET /v1/vms of every VM is itself work).
		mc, fc := machine.StartCPU(m.pid()), machine.StartCPU(fl.pids()...)
		if !machine.Sleep(ctx, c.window) {
			return r, ctx.Err()
		}
		cpu, fleetCPU = append(cpu, mc.Percent()), append(fleetCPU, fc.Percent())
		ages, missing, err := m.ages(ctx)
		if err != nil {
			return r, err
		}
		for range missing {
			ages = append(ages, c.window.Seconds()) // no figures at all: as bad as it gets
		}
		p50 = append(p50, machine.Percentile(ages, 50))
		p99 = append(p99, machine.Percentile(ages, 99))
		if !machine.Sleep(ctx, time.Second) { // let the listing's work settle
			return r, ctx.Err()
		}
	}
	elapsed := time.Since(start)
	after, err := m.counters(ctx, mFailures, mPolls, mRollups)
	if err != nil {
		return r, err
	}
	r.cpu, r.fleetCPU = machine.Median(cpu), machine.Median(fleetCPU)
	r.ageP50, r.ageP99 = machine.Median(p50), machine.Median(p99)
	r.rssMiB = float64(machine.RSSKB(m.pid())) / 1024
	r.failed = int(after[mFailures] - before[mFailures])
	r.polls = int(after[mPolls] - before[mPolls])
	r.rowsPerSec = (after[mRollups] - before[mRollups]) / elapsed.Seconds()
	r.batch = m.logBuf.lastBatch()
	return r, nil
}

var selfPID = os.Getpid()

package collector

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
)

// Run polls until ctx ends, then stops every VM's poller and returns nil
// once they have all returned. It reads the registry at once and then every
// interval, starting a poller for each new VM and stopping those of VMs no
// longer listed. Call it once.
func (c *Collector) Run(ctx context.Context) error {
	if c.opt.Targets == nil {
		return errors.New("collector: Options.Targets is nil")
	}
	var wg sync.WaitGroup
	defer func() {
		c.mu.Lock()
		for _, w := range c.workers {
			w.stop()
		}
		for _, h := range c.hostWorkers {
			h.stop()
		}
		c.mu.Unlock()
		wg.Wait()
	}()
	tick.NowAndEvery(ctx, c.opt.PollInterval, func() {
		c.sync(ctx, &wg)
		c.syncHosts(ctx, &wg)
	})
	return nil
}

// sync brings the pollers in line with the registry. A registry error
// keeps the current set: the VMs did not go away because a query failed.
func (c *Collector) sync(ctx context.Context, wg *sync.WaitGroup) {
	// A large registry may take more than an interval to read; the VMs
	// known are polled meanwhile.
	qctx, cancel := context.WithTimeout(ctx, max(c.opt.PollInterval, 30*time.Second))
	targets, err := c.opt.Targets(qctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("reading the VM registry failed; polling the VMs known before", "err", err)
		}
		return
	}
	seen := make(map[string]bool, len(targets))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range targets {
		if t.ID == "" {
			continue
		}
		seen[t.ID] = true
		if w, ok := c.workers[t.ID]; ok {
			w.setTarget(t)
			continue
		}
		wctx, stop := context.WithCancel(ctx)
		w := newWorker(c, t, stop)
		c.workers[t.ID] = w
		wg.Go(func() { w.run(wctx) })
	}
	for id, w := range c.workers {
		if !seen[id] {
			delete(c.workers, id)
			w.stop()
		}
	}
}

// run polls the VM at its slots until ctx ends. A poll that overruns its
// slot makes the poller skip the slots it missed rather than fire them in a
// burst, and the semaphore wait is the only thing a VM shares with others.
func (w *worker) run(ctx context.Context) {
	defer w.conn.close()
	iv := w.c.opt.PollInterval
	for {
		slot := nextSlot(time.Now(), iv, w.phase)
		if !sleepUntil(ctx, slot) {
			return
		}
		select {
		case w.c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		w.poll(ctx, slot)
		<-w.c.sem
	}
}

// Phase is the offset within each interval at which the VM with this id is
// polled. It is a hash of the id, so it is stable across manager restarts
// and spreads many VMs evenly over the interval instead of firing them all
// at the same instant.
func Phase(id string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(mix(h.Sum64()) % uint64(interval))
}

// mix is MurmurHash3's 64-bit finalizer. FNV alone barely changes its
// output for ids that differ in one trailing digit (vm-1, vm-2, ...), which
// would bunch such VMs together; mixing spreads them.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// nextSlot returns the first instant after now that lies phase past a
// multiple of interval since the Unix epoch. Slots are tied to the epoch,
// not to when polling began, so a VM's slots do not drift.
func nextSlot(now time.Time, interval, phase time.Duration) time.Time {
	n := now.UnixNano()
	iv := int64(interval)
	t := n - n%iv + int64(phase)
	if t <= n {
		t += iv
	}
	return time.Unix(0, t)
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

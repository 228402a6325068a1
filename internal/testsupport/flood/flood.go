// Package flood loads a server the way the security review did: many
// connections that each send one byte of a request and stall, reconnecting
// as soon as the server closes them, while a prober measures how fast real
// requests are answered. Every load is bounded in count and time. It is for
// tests only.
package flood

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"
)

// Result is what the prober saw while the flood ran.
type Result struct {
	Probes, Failed int
	P50, P99       time.Duration
}

// Run floods addr with conns one-byte connections for d while probing each
// of paths on a new connection every 25 ms (Host header host); sample is
// called at each probe round (for RSS readings, say).
func Run(addr, host string, conns int, d time.Duration, paths []string, sample func()) Result {
	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() { oneByteLoop(ctx, addr) })
	}
	time.Sleep(time.Second) // let the flood fill the slots
	var lat []time.Duration
	var res Result
	for tick := time.NewTicker(25 * time.Millisecond); ctx.Err() == nil; <-tick.C {
		for _, p := range paths {
			d, ok := Probe(addr, host, p)
			if !ok {
				res.Failed++
			}
			lat = append(lat, d)
		}
		if sample != nil {
			sample()
		}
	}
	wg.Wait()
	slices.Sort(lat)
	res.Probes = len(lat)
	if len(lat) > 0 {
		res.P50, res.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return res
}

// oneByteLoop connects, sends one byte, waits to be closed, and again,
// until ctx ends.
func oneByteLoop(ctx context.Context, addr string) {
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.Write([]byte("G"))
		stop := context.AfterFunc(ctx, func() { c.Close() })
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		stop()
		c.Close()
	}
}

// Probe makes one GET on a new connection, as a health checker does, and
// reports the time to a complete 200 answer.
func Probe(addr, host, path string) (time.Duration, bool) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return time.Since(start), false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return time.Since(start), false
	}
	buf := make([]byte, 256<<10)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil || n == len(buf) {
			break
		}
	}
	ok := n > 12 && string(buf[9:12]) == "200"
	return time.Since(start), ok
}

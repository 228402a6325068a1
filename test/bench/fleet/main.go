// Command fleet pretends to be many guest agents (or, with -per-host, many
// host agents: see hosts.go) for the manager's scale benchmark: it binds -n consecutive loopback addresses from -first (all of
// 127.0.0.0/8 is local on Linux) on one port and answers GET /metrics on each
// with the guest agent's JSON, wire.GuestMetrics encoded by AppendJSON, with
// figures of its own for every VM that change every second. It serves HTTP/1.1
// with keep-alive and nothing more, cheaply, because it shares the machine
// with the manager it loads. It prints "ready" once every address is bound and
// runs until SIGINT or SIGTERM, or -max at the latest.
//
// Bench-only: it is not part of fcmon.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

func main() {
	first := flag.String("first", "127.10.0.1", "first loopback address")
	n := flag.Int("n", 1000, "VMs, one per consecutive address")
	port := flag.Int("port", 8080, "port on every address")
	maxRun := flag.Duration("max", 15*time.Minute, "exit after this long in any case")
	perHost := flag.Int("per-host", 0, "simulate -n host agents with this many VMs each (GET /v1/samples) instead of -n guest agents")
	flag.BoolVar(&mixSources, "mix", false, "with -per-host: every 10th VM without its guest agent (vCPU and balloon figures), every 50th without vCPU figures either (the VMM process's)")
	flag.Parse()
	if err := run(*first, *n, *port, *perHost, *maxRun); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(first string, n, port, perHost int, maxRun time.Duration) error {
	addr, err := netip.ParseAddr(first)
	if err != nil || !addr.Is4() || !addr.IsLoopback() {
		return fmt.Errorf("-first %q is not an IPv4 loopback address", first)
	}
	// Each VM costs a listener and a kept-alive connection; 10,000 VMs are
	// over the usual limit of open files.
	if err := machine.RaiseNoFile(uint64(2*n + 256)); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, maxRun)
	defer cancel()

	start := time.Now()
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	if perHost > 0 {
		hl, err := serveHosts(addr, n, perHost, port, start)
		lns = append(lns, hl...)
		if err != nil {
			return err
		}
		fmt.Printf("ready %d hosts of %d VMs\n", n, perHost)
		fmt.Fprintf(os.Stderr, "ready %d hosts of %d VMs\n", n, perHost) // for tests that read the log

		<-ctx.Done()
		return nil
	}
	for i := range n {
		if !addr.IsLoopback() {
			return fmt.Errorf("VM %d would lie beyond 127.0.0.0/8", i)
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		go acceptLoop(ln, vm{index: i, start: start})
		addr = addr.Next()
	}
	fmt.Printf("ready %d\n", n)
	<-ctx.Done()
	return nil
}

func acceptLoop(ln net.Listener, v vm) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveConn(c, v)
	}
}

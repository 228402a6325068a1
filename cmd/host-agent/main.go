// Command host-agent runs beside Firecracker on each host and serves the
// host-side figures of every microVM attached to it: VMM process CPU and
// memory, Firecracker's network and disk metrics, tap counters. See
// internal/hostagent and the host-agent section of SPEC.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/logging"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/hostagent"
)

const summary = `host-agent serves, over HTTP, what a Firecracker host knows about each
microVM attached to it: the VMM process's CPU (vCPU threads apart), memory and
threads from /proc, network and disk figures from Firecracker's metrics FIFO
(with FlushMetrics requested over the API socket every interval), and tap
counters. Every endpoint but /health needs the bearer token of --token-file
when one is given; listening beyond loopback needs a token or --insecure.`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg hostagent.Config
	var logLevel, logFormat string
	fs := cli.New("host-agent", "HOST_AGENT_", summary)
	cfg.Flags(fs)
	fs.String(&logLevel, "log-level", "info", "least severe log level written: debug, info, warn or error")
	fs.String(&logFormat, "log-format", "text", "log format on stderr: text or json")
	switch err := fs.Parse(args, os.Getenv); {
	case errors.Is(err, cli.ErrHelp):
		fs.WriteUsage(os.Stdout)
		return 0
	case errors.Is(err, cli.ErrVersion):
		fmt.Println("host-agent", version.Version)
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "host-agent:", err)
		return 2
	}
	log, err := logging.New(os.Stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "host-agent:", err)
		return 2
	}
	agent, err := hostagent.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "host-agent:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx); err != nil {
		log.Error("host agent failed", "err", err)
		return 1
	}
	log.Info("host agent stopped")
	return 0
}

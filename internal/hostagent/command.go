package hostagent

import (
	"context"
	"io"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/logging"
)

const summary = `host-agent serves, over HTTP, what a Firecracker host knows about each
microVM attached to it: the VMM process's CPU (vCPU threads apart), memory and
threads from /proc, network and disk figures from Firecracker's metrics FIFO
(with FlushMetrics requested over the API socket every interval), and tap
counters. Every endpoint but /health needs the bearer token of --token-file
when one is given; listening beyond loopback needs a token or --insecure.`

// Command is the host-agent program for cli.Main.
func Command() cli.Command {
	var cfg Config
	return cli.Command{
		Name: "host-agent", EnvPrefix: "HOST_AGENT_", Summary: summary,
		Flags: cfg.Flags,
		Run: func(ctx context.Context, stderr io.Writer) error {
			log, err := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return cli.Usage(err)
			}
			a, err := New(cfg, log)
			if err != nil {
				return cli.Usage(err)
			}
			if err := a.Run(ctx); err != nil {
				return err
			}
			log.Info("host agent stopped")
			return nil
		},
	}
}

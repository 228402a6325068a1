// Command host-agent runs beside Firecracker on each host and serves the
// host-side figures of every microVM on it. See internal/hostagent and
// docs/api.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/hostagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, hostagent.Command(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

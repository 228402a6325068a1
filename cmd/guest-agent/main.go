// Command guest-agent runs inside a VM and serves its CPU, memory, disk and
// network metrics over HTTP, on TCP and vsock. See internal/guestagent and
// docs/api.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/guestagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, guestagent.Command(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

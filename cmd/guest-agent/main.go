// Command guest-agent runs inside a VM and serves its CPU, memory, disk and
// network metrics over HTTP. See internal/guestagent and `guest-agent --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/guestagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := guestagent.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

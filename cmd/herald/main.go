// Command herald is a real-time push server: a Mercure-compatible hub over
// Server-Sent Events with a durable journal. Run `herald help` for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhub/herald/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal starts a graceful shutdown, a second one
	// kills the process at once (Go's default for an unhandled signal).
	context.AfterFunc(ctx, stop)
	code := cli.Main(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

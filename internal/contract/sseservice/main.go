package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves the test service until ctx ends or a client asks it to quit,
// and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("sseservice", flag.ContinueOnError)
	flags.SetOutput(stderr)
	port := flags.Int("port", 8000, "TCP port to listen on (0 picks a free one)")
	host := flags.String("host", "127.0.0.1", "address to listen on")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(stderr, "sseservice:", err)
		return 1
	}
	svc := newService(log)
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "sseservice listening on http://%s\n", ln.Addr())

	code := 0
	select {
	case <-ctx.Done():
	case <-svc.Done():
	case err := <-served:
		fmt.Fprintln(stderr, "sseservice:", err)
		code = 1
	}
	svc.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "sseservice:", err)
		code = 1
	}
	return code
}

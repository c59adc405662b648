package cli_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/heraldhub/herald/internal/cli"
)

// runMainEnv set to 1 makes the test binary stand in for the herald binary:
// it runs Main with its arguments, as cmd/herald does, so a test can run
// the program in a process of its own (to limit or signal it alone).
const runMainEnv = "HERALD_CLI_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], nil, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

package bench

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the herald binary when a test
// run spreads subscribers over child processes: those re-execute
// os.Executable() with the arguments `bench --child`, exactly as they
// re-execute herald in production.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == childArgs[0] && os.Args[2] == childArgs[1] {
		os.Exit(Command(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

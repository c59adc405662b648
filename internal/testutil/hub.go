package testutil

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/hub"
)

// RunHub starts h.Run and waits until it follows the journal, so that
// every event published from then on is delivered live. stop ends Run and
// returns its error; it also runs at cleanup.
func RunHub(t testing.TB, h *hub.Hub) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	select {
	case <-h.Started():
	case err := <-errc:
		cancel()
		t.Fatalf("Run returned before following the journal: %v", err)
	case <-time.After(WaitTimeout):
		cancel()
		t.Fatal("Run did not start")
	}
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-errc
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

package testutil

import (
	"testing"
	"time"
)

// WaitTimeout bounds every wait for something that should happen promptly:
// an event, a connection, a goroutine ending. It is generous, for a loaded
// machine and the race detector; a passing test never waits that long.
const WaitTimeout = 10 * time.Second

// CheckFor calls fn every interval until it returns nil, and fails the test
// with fn's last error if it still has not after timeout.
func CheckFor(t testing.TB, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

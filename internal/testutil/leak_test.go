package testutil

import (
	"strings"
	"testing"
	"time"
)

// blockedUntil is a goroutine body with a name to look for in stacks.
func blockedUntil(release chan struct{}) { <-release }

func TestCheckNoLeaksReportsStacks(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := &fakeT{}
	msg := ft.run(func() {
		checkNoLeaks(ft, 50*time.Millisecond)
		go blockedUntil(release)
	})
	if !strings.Contains(msg, "goroutines left behind (1)") || !strings.Contains(msg, "testutil.blockedUntil") {
		t.Errorf("failure = %q, want the stack of the one goroutine left", msg)
	}
}

func TestCheckNoLeaksPasses(t *testing.T) {
	// A goroutine running before the check began is not the test's.
	earlier := make(chan struct{})
	t.Cleanup(func() { close(earlier) })
	go blockedUntil(earlier)

	CheckNoLeaks(t)

	// One that a later cleanup stops has ended by the time of the check.
	later := make(chan struct{})
	go blockedUntil(later)
	t.Cleanup(func() { close(later) })
}

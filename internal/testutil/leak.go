package testutil

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// CheckNoLeaks makes the test fail if goroutines started during it are
// still running once it has ended. Call it first in the test: the check is a
// cleanup, and cleanups run in reverse order, so it runs after the ones that
// close the test's servers and streams.
//
// Goroutines that were running when CheckNoLeaks was called do not count,
// nor those of package testing, nor the ones os/signal starts once for the
// whole process. Idle keep-alive connections of [http.DefaultTransport] are
// closed first: they wait to be reused, they are not leaked. The check polls
// for up to [WaitTimeout] for the goroutines to end, then fails the test
// with their stacks.
//
// Goroutines are seen process-wide, so a test that calls CheckNoLeaks must
// not run in parallel with others. This is what go.uber.org/goleak's
// VerifyNone(t, IgnoreCurrent()) does, in a few lines that wait as long as
// every other check here instead of a dependency with its own retry budget.
func CheckNoLeaks(t testing.TB) {
	t.Helper()
	checkNoLeaks(t, WaitTimeout)
}

func checkNoLeaks(t testing.TB, timeout time.Duration) {
	before := make(map[string]bool)
	for _, g := range otherGoroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		CheckFor(t, timeout, 10*time.Millisecond, func() error {
			if tr, ok := http.DefaultTransport.(interface{ CloseIdleConnections() }); ok {
				tr.CloseIdleConnections()
			}
			var left []string
			for _, g := range otherGoroutines() {
				if !before[g.id] && !g.background() {
					left = append(left, g.stack)
				}
			}
			if len(left) > 0 {
				return fmt.Errorf("goroutines left behind (%d):\n\n%s", len(left), strings.Join(left, "\n\n"))
			}
			return nil
		})
	})
}

// goroutine is one goroutine as runtime.Stack describes it.
type goroutine struct {
	id    string // never reused within a process
	stack string // the whole record, header line included
}

// background reports whether g is one that a test does not own: a test of
// package testing, or the signal handling that os/signal starts at its
// first use and keeps for the life of the process.
func (g goroutine) background() bool {
	return strings.Contains(g.stack, "\ncreated by testing.") ||
		strings.Contains(g.stack, "os/signal.signal_recv") ||
		strings.Contains(g.stack, "os/signal.loop") ||
		strings.Contains(g.stack, "runtime.ensureSigM")
}

// otherGoroutines returns every goroutine but the caller's.
func otherGoroutines() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var gs []goroutine
	// Records are separated by blank lines and start with a header such
	// as "goroutine 42 [chan receive]:"; the caller's comes first.
	for i, stack := range strings.Split(string(buf), "\n\n") {
		rest, ok := strings.CutPrefix(stack, "goroutine ")
		id, _, found := strings.Cut(rest, " ")
		if i > 0 && ok && found {
			gs = append(gs, goroutine{id: id, stack: stack})
		}
	}
	return gs
}

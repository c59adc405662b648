package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The publish deadline ends like context.WithTimeout's: at the deadline
// or with its parent, whether or not Done was asked for first, and Err
// never says it ended before Done is closed.
func TestDeadlineContext(t *testing.T) {
	t.Run("Err alone sees the deadline", func(t *testing.T) {
		c := withDeadline(context.Background(), 20*time.Millisecond)
		defer c.release()
		if err := c.Err(); err != nil {
			t.Fatalf("Err = %v at once", err)
		}
		time.Sleep(30 * time.Millisecond)
		if err := c.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err = %v after the deadline", err)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done made after the end is not closed")
		}
	})
	t.Run("Done closes at the deadline", func(t *testing.T) {
		c := withDeadline(context.Background(), 20*time.Millisecond)
		defer c.release()
		start := time.Now()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed")
		}
		if d := time.Since(start); d < 15*time.Millisecond {
			t.Fatalf("Done closed after %v", d)
		}
		if err := c.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err = %v", err)
		}
	})
	t.Run("the parent ends it", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := withDeadline(parent, time.Hour)
		defer c.release()
		done := c.Done()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed with the parent")
		}
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err = %v", err)
		}
		parent, cancel = context.WithCancel(context.Background())
		c = withDeadline(parent, time.Hour)
		cancel()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err without Done = %v", err)
		}
	})
	t.Run("an earlier parent deadline wins", func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := withDeadline(parent, time.Hour)
		pd, _ := parent.Deadline()
		if d, ok := c.Deadline(); !ok || !d.Equal(pd) {
			t.Fatalf("Deadline = %v, %v; want the parent's %v", d, ok, pd)
		}
	})
	t.Run("release unhooks", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := withDeadline(parent, time.Hour)
		_ = c.Done()
		c.release()
		if c.timer.Stop() {
			t.Fatal("the timer still runs after release")
		}
		if c.stop() {
			t.Fatal("still hooked to the parent after release")
		}
	})
}

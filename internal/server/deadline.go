package server

import (
	"context"
	"sync"
	"time"
)

// deadlineContext is a context with a deadline that costs nothing until
// something waits for it: context.WithTimeout arms a timer and joins its
// parent for every publish (5 % of a publish's CPU on the memory journal),
// where a journal waits on Done only when it cannot take the event at
// once. Err checks the time itself, and Done makes the timer and joins the
// parent at its first call. Call release once done with it.
// context.Cause of it is its parent's: the journals ask Err.
type deadlineContext struct {
	context.Context // the parent
	deadline        time.Time

	mu    sync.Mutex
	err   error
	done  chan struct{}
	timer *time.Timer
	stop  func() bool // unhooks from the parent
}

func withDeadline(parent context.Context, d time.Duration) *deadlineContext {
	deadline := time.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	return &deadlineContext{Context: parent, deadline: deadline}
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Err is why the context ended, nil while it lasts. Once the deadline has
// passed or the parent ended, it ends the context (closing Done, if made)
// before it says so.
func (c *deadlineContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		if err := c.Context.Err(); err != nil {
			c.endLocked(err)
		} else if !time.Now().Before(c.deadline) {
			c.endLocked(context.DeadlineExceeded)
		}
	}
	return c.err
}

// Done is closed when the deadline passes or the parent ends.
func (c *deadlineContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	c.stop = context.AfterFunc(c.Context, func() { c.end(c.Context.Err()) })
	return c.done
}

func (c *deadlineContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

func (c *deadlineContext) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}

// release stops the timer and unhooks from the parent, if Done made them.
func (c *deadlineContext) release() {
	c.mu.Lock()
	timer, stop := c.timer, c.stop
	c.mu.Unlock()
	if timer != nil {
		timer.Stop()
		stop()
	}
}

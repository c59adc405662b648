package journal

import (
	"context"
	"sync"
)

const (
	// followBuffer is how many events a follower may read ahead of its
	// consumer. A consumer slower than that does not lose events: its
	// follower stops reading and later catches up from the store.
	followBuffer = 256
	// followBatch is how many events a follower reads from the store at a time.
	followBatch = 512
)

// FetchFunc reads a journal's store for [Feed.Follow]: it appends to buf,
// oldest first, the retained events with Seq > after, stopping when buf is
// full (len(buf) == cap(buf)) or the store has nothing newer, and returns
// the extended slice. The events must be the caller's to keep.
type FetchFunc func(after uint64, buf []*Event) ([]*Event, error)

// Feed implements Follow for a journal whose events are all committed in
// this process. The journal calls [Feed.Notify] after each commit; each
// follower is a goroutine that reads the store through a [FetchFunc] from
// the last position it delivered, and waits for the next Notify when it has
// caught up.
//
// Because followers pull from the store, Append never waits for a follower
// and a slow follower never loses an event: it lags, then catches up by
// reading. Only retention can take events from under it; it then resumes at
// the oldest retained event.
//
// A Feed is safe for concurrent use.
type Feed struct {
	mu sync.Mutex
	// changed is closed by the next Notify. It is nil while no follower
	// waits, so a Notify with nobody listening costs no allocation.
	changed chan struct{}
	// closed is closed by Close; it stops every follower.
	closed   chan struct{}
	isClosed bool
	// followers counts running follower goroutines, for Close to wait on.
	followers sync.WaitGroup
}

// NewFeed returns a Feed with no followers.
func NewFeed() *Feed {
	return &Feed{closed: make(chan struct{})}
}

// Notify wakes every follower waiting for new events. The journal calls it
// after the events are readable through the followers' FetchFunc.
func (f *Feed) Notify() {
	f.mu.Lock()
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
	f.mu.Unlock()
}

// wakeup returns a channel closed by the next Notify.
func (f *Feed) wakeup() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// Follow starts a follower that sends on the returned channel every event
// fetch yields with Seq > after, in order, without gap or duplicate, until
// ctx ends, the Feed closes or fetch fails; then it closes the channel. A
// consumer that sees the channel close while its ctx is live may Follow
// again from the last Seq it received.
//
// Follow fails with ErrClosed after [Feed.Close], and with ctx's error when
// ctx has already ended.
func (f *Feed) Follow(ctx context.Context, after uint64, fetch FetchFunc) (<-chan *Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.isClosed {
		return nil, ErrClosed
	}
	out := make(chan *Event, followBuffer)
	f.followers.Add(1)
	go f.follow(ctx, after, fetch, out)
	return out, nil
}

func (f *Feed) follow(ctx context.Context, after uint64, fetch FetchFunc, out chan<- *Event) {
	defer f.followers.Done()
	defer close(out)
	batch := make([]*Event, 0, followBatch)
	for {
		// Take the wakeup channel before looking at the store: an event
		// committed after the fetch below closes it, so none is missed.
		wake := f.wakeup()
		var err error
		batch, err = fetch(after, batch[:0])
		if err != nil {
			return
		}
		if len(batch) == 0 {
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return
			case <-f.closed:
				return
			}
		}
		for _, ev := range batch {
			select {
			case out <- ev:
				after = ev.Seq
			case <-ctx.Done():
				return
			case <-f.closed:
				return
			}
		}
		clear(batch)
	}
}

// Close stops every follower, closing their channels, and waits for their
// goroutines to exit. Later calls to Follow fail with ErrClosed. Close is
// idempotent.
func (f *Feed) Close() {
	f.mu.Lock()
	if !f.isClosed {
		f.isClosed = true
		close(f.closed)
	}
	f.mu.Unlock()
	f.followers.Wait()
}

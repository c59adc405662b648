package push

import (
	"slices"
	"sync"
)

// runQueue is the list of connections with frames to write.
type runQueue struct {
	mu     sync.Mutex
	items  []*Conn
	closed bool
	wake   chan struct{}
}

func (q *runQueue) push(c *Conn) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	q.signal()
}

func (q *runQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close makes take return false from now on.
func (q *runQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// take moves the queued connections into batch, waiting until there are
// some; ok is false when the queue is closed.
func (q *runQueue) take(batch []*Conn) ([]*Conn, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			q.signal() // pass the news on to the next worker
			return batch, false
		}
		if len(q.items) > 0 {
			// Take at most half (and at least one) so the other workers
			// get a share of a large fan-out.
			n := max(1, min(len(q.items), 256, (len(q.items)+1)/2))
			batch = append(batch, q.items[:n]...)
			rest := copy(q.items, q.items[n:])
			clear(q.items[rest:])
			q.items = q.items[:rest]
			if cap(q.items) > 4096 && rest < 64 {
				q.items = slices.Clip(q.items[:rest:rest])
			}
			more := rest > 0
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return batch, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

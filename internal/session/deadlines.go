package session

import (
	"slices"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/clock"
)

// Deadlines ends sessions when their deadlines pass, on one timer for all
// of them: a timer and its callback per session cost an idle subscriber
// about 150 bytes, a place in the heap 8. Make one with [NewDeadlines] and
// give it to every session of a server ([Config.Deadlines]).
type Deadlines struct {
	clock clock.Clock

	mu    sync.Mutex
	heap  []*Session // ordered by due, earliest first
	timer clock.Timer
	armed int64  // when timer fires, in Unix nanoseconds
	gen   uint64 // the arming of timer; a callback of an earlier one does nothing
}

// NewDeadlines returns the deadlines of sessions on clk (nil: the real
// clock).
func NewDeadlines(clk clock.Clock) *Deadlines {
	return &Deadlines{clock: clock.Or(clk)}
}

// add schedules s to end at due (Unix nanoseconds).
func (d *Deadlines) add(s *Session, due int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s.due, s.slot = due, int32(len(d.heap))
	d.heap = append(d.heap, s)
	d.up(len(d.heap) - 1)
	if s.slot == 0 && (d.timer == nil || due < d.armed) {
		d.arm(d.clock.Now().UnixNano())
	}
}

// remove unschedules s, unless it is not scheduled (its deadline passed,
// or it never had one).
func (d *Deadlines) remove(s *Session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.slot >= 0 {
		d.removeAt(int(s.slot))
	}
}

// removeAt takes the session at i out of the heap, moving the last one
// into its place, and lets go of an array that a crowd of sessions left
// mostly empty. d.mu is held.
func (d *Deadlines) removeAt(i int) *Session {
	s := d.heap[i]
	last := len(d.heap) - 1
	d.swap(i, last)
	d.heap[last] = nil
	d.heap = d.heap[:last]
	s.slot = -1
	if i < last {
		d.down(i)
		d.up(i)
	}
	if cap(d.heap) > 64 && len(d.heap) < cap(d.heap)/4 {
		d.heap = slices.Clone(d.heap)
	}
	return s
}

// arm sets the timer for the earliest deadline, replacing the one set.
// d.mu is held.
func (d *Deadlines) arm(now int64) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if len(d.heap) == 0 {
		return
	}
	d.gen++
	gen := d.gen
	d.armed = d.heap[0].due
	d.timer = d.clock.AfterFunc(time.Duration(d.armed-now), func() { d.fire(gen) })
}

// fire ends the sessions whose deadlines passed and arms the timer for
// the next.
func (d *Deadlines) fire(gen uint64) {
	d.mu.Lock()
	if gen != d.gen {
		d.mu.Unlock()
		return
	}
	d.timer = nil
	now := d.clock.Now().UnixNano()
	var due []*Session
	for len(d.heap) > 0 && d.heap[0].due <= now {
		due = append(due, d.removeAt(0))
	}
	d.arm(now)
	d.mu.Unlock()
	for _, s := range due {
		s.End(s.deadlineReason())
	}
}

func (d *Deadlines) swap(i, j int) {
	h := d.heap
	h[i], h[j] = h[j], h[i]
	h[i].slot, h[j].slot = int32(i), int32(j)
}

func (d *Deadlines) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if d.heap[parent].due <= d.heap[i].due {
			return
		}
		d.swap(i, parent)
		i = parent
	}
}

func (d *Deadlines) down(i int) {
	n := len(d.heap)
	for {
		least := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < n && d.heap[c].due < d.heap[least].due {
				least = c
			}
		}
		if least == i {
			return
		}
		d.swap(i, least)
		i = least
	}
}

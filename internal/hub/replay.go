package hub

import (
	"context"
	"errors"

	"github.com/heraldhub/herald/internal/journal"
)

// errEnded stops a replay whose subscription ended meanwhile.
var errEnded = errors.New("hub: subscription ended")

// Replay hands fn, in order, every matching event of the journal after the
// subscription's LastEventID, then switches the subscription to live: from
// then on Drain returns the events that follow, with no gap and no
// duplicate. It does nothing for a live-only subscription or when called
// again. A failure (ctx, fn or the journal) ends the subscription and is
// returned; if the subscription ends meanwhile, Replay returns its Err, or
// [ErrClosed] after Close.
//
// Why no event is lost or repeated: the subscription joined the index
// before it was handed out, so every event after its head (see Subscribe)
// is offered to its queue. While replaying, a queue that outgrows its
// bound is emptied rather than cut and the subscription is marked lagged.
// An event is appended to the journal before it is fanned out, and a
// journal read returns every event appended before it began, so an event
// dropped before a read starts is returned by that read. Replay
// therefore reads again, after the last event it saw, whenever a drop
// happened since the current read began, and goes live only after a read
// with no drop: each dropped event was returned by one of the reads, each
// event kept in the queue either was (and is dropped as Seq <= floor) or
// comes after everything read. The reads never overlap, and the queue
// keeps only Seq > the last one read (floor), so nothing is handed out
// twice. The one loss possible is the journal's: an event trimmed by
// retention before a read reaches it.
func (s *Subscription) Replay(ctx context.Context, fn func(*Message) error) error {
	s.mu.Lock()
	if !s.replaying || s.replayStarted {
		s.mu.Unlock()
		return nil
	}
	s.replayStarted = true
	s.mu.Unlock()

	h := s.hub
	after := s.resumeAfter
	done := s.Done()
	for {
		s.mu.Lock()
		s.lagged = false
		s.mu.Unlock()
		err := h.journal.Read(ctx, after, func(ev *journal.Event) error {
			select {
			case <-done:
				return errEnded
			default:
			}
			after = ev.Seq
			if !s.wants(ev) {
				return nil
			}
			if deliverable(ev) != nil {
				return nil
			}
			if err := fn(h.message(ev)); err != nil {
				return err
			}
			h.stats.replayed.Add(1)
			return nil
		})

		s.mu.Lock()
		if s.ended {
			endErr := s.err
			s.mu.Unlock()
			if endErr == nil {
				return ErrClosed
			}
			return endErr
		}
		if err != nil {
			s.mu.Unlock()
			h.end(s, err)
			return err
		}
		if !s.lagged {
			s.replaying = false
			s.floor = max(s.floor, after)
			s.dropUpToFloor()
			pending := len(s.queue) > 0
			if pending {
				s.signalReady()
			}
			s.mu.Unlock()
			if pending {
				s.notifyReady()
			}
			return nil
		}
		s.mu.Unlock()
		h.stats.replayLags.Add(1)
	}
}

// dropUpToFloor removes the queued messages at or below floor (the queue
// is in Seq order): those the replay already handed out, or that precede
// the subscription's head. They are not due, and must not count against
// the queue's bound. s.mu is held.
func (s *Subscription) dropUpToFloor() {
	n := 0
	for _, m := range s.queue {
		if m.Event.Seq > s.floor {
			break
		}
		s.queued -= m.size
		n++
	}
	if n > 0 {
		rest := copy(s.queue, s.queue[n:])
		clear(s.queue[rest:])
		s.queue = s.queue[:rest]
	}
}

// wants reports whether ev is for s: a selector matches one of its topics
// and, if it is private, a grant does too.
func (s *Subscription) wants(ev *journal.Event) bool {
	return s.selectors.MatchAny(ev.Topics) && visible(ev, s.grants)
}

// Package session is what every way of subscribing starts from: an
// admitted subscriber. The server parses and admits a request (selectors,
// token and grants, where to resume, limits) into a [Session]; a transport
// (an SSE stream, a long poll, a WebSocket, a state stream) writes it.
//
// A session has one lifecycle whatever writes it. It ends once, for one
// reason ([Session.End], [Session.Err]): its token expired or its maximum
// lifetime passed (a place in the server's [Deadlines], taken by [New]),
// the hub cut it as a slow consumer or shut down, the server drains
// ([Registry.EndAll]), or its writer failed or its client left. Its
// writer learns of the end through [Session.Done] or its [Waker], may
// send a last frame, then calls [Session.Release], which gives back what
// admission took, exactly once.
package session

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
)

// Why a session ended, besides the hub's [hub.ErrSlowConsumer] and
// [hub.ErrHubClosed] and a writer's own errors. They are logged, and a
// transport may tell its client (a state stream's auth_revoked).
var (
	ErrDraining     = errors.New("server draining")
	ErrTokenExpired = errors.New("token expired")
	ErrLifetime     = errors.New("maximum lifetime reached")
	// ErrClosed is the reason of a session ended without one.
	ErrClosed = errors.New("session closed")
)

// Config is what admission decided about a subscriber.
type Config struct {
	// Sub is the hub subscription; the session owns it from New on.
	Sub *hub.Subscription
	// Claims are the verified token's, nil for an anonymous subscriber.
	Claims *auth.Claims
	// StartID is where the subscriber stands when its stream opens: an ID
	// after which it receives every matching event ("earliest" for all
	// that is retained). Transports send it first, so that a client that
	// drops before its first event resumes from there.
	StartID string
	// MaxLifetime ends the session after about this long, with ±10%
	// jitter so that a crowd of clients does not reconnect at once
	// (0: no limit). A token's expiry ends it too, whichever is first.
	MaxLifetime time.Duration
	// Untimed leaves the session without a deadline of its own: its
	// transport keeps the time (a WebSocket carries several sessions and
	// may replace its token before it expires).
	Untimed bool
	// Address is the client's, as admission counted it.
	Address string
	// Deadlines ends the session at its deadline; share one between the
	// sessions of a server (nil: the session gets its own).
	Deadlines *Deadlines
	// Release gives back what admission took (a connection slot, the
	// client's share of its limits, the announcement of the
	// subscription); it runs once per session, after the hub subscription
	// is closed. One function serves every session of a server, so that
	// a session holds no closure of its own.
	Release func(*Session)
	// Clock is the source of time (default: the real clock).
	Clock clock.Clock
}

// Session is one admitted subscriber. Its methods are safe for concurrent
// use.
type Session struct {
	Sub     *hub.Subscription
	Claims  *auth.Claims
	StartID string
	Address string

	// deadlines ends the session at due (Unix nanoseconds) from its place
	// slot in their heap (-1: none), for its token's expiry or its
	// lifetime; deadlines.mu guards slot.
	deadlines *Deadlines
	due       int64
	slot      int32
	expires   bool
	shard     int32 // in registry, -1 before Add
	release   func(*Session)
	registry  *Registry

	mu sync.Mutex
	// done is made by the first Done: a writer woken through its Waker
	// never needs one, and an idle stream should hold no more than it uses.
	done     chan struct{}
	err      error
	wake     atomic.Value // of Waker
	released sync.Once
}

// New makes the session of an admitted subscriber and arms its deadline:
// the token's expiry or the maximum lifetime, whichever comes first.
func New(c Config) *Session {
	s := &Session{
		Sub: c.Sub, Claims: c.Claims, StartID: c.StartID, Address: c.Address,
		release: c.Release, shard: -1, slot: -1,
	}
	if at := s.deadlineOf(clock.Or(c.Clock).Now(), c.MaxLifetime); !at.IsZero() && !c.Untimed {
		s.deadlines = c.Deadlines
		if s.deadlines == nil {
			s.deadlines = NewDeadlines(c.Clock)
		}
		s.deadlines.add(s, at.UnixNano())
	}
	s.Sub.SetWaker(s)
	// The subscription may have ended before the waker was set.
	s.Wake()
	return s
}

// deadlineOf returns when the session must end, zero for never, and
// notes whether that is its token's expiry.
func (s *Session) deadlineOf(now time.Time, lifetime time.Duration) time.Time {
	var at time.Time
	if lifetime > 0 {
		at = now.Add(Jitter(lifetime))
	}
	if s.Claims != nil && !s.Claims.ExpiresAt.IsZero() && (at.IsZero() || s.Claims.ExpiresAt.Before(at)) {
		at, s.expires = s.Claims.ExpiresAt, true
	}
	return at
}

// deadlineReason is why the session ends at its deadline.
func (s *Session) deadlineReason() error {
	if s.expires {
		return ErrTokenExpired
	}
	return ErrLifetime
}

// Wake is the hub subscription's waker (a [hub.Waker]): frames are due,
// or the subscription ended (the session then ends with it).
func (s *Session) Wake() {
	if s.Sub.Ended() {
		s.End(subscriptionErr(s.Sub))
		return
	}
	s.wakeWriter()
}

func subscriptionErr(sub *hub.Subscription) error {
	if err := sub.Err(); err != nil {
		return err
	}
	return hub.ErrHubClosed
}

// Waker is a writer that the session wakes when frames are due and when it
// ends. Wake must not block.
type Waker = hub.Waker

// SetWriter gives the session the writer it wakes. A writer that waits on
// [Session.Ready] and [Session.Done] needs none. After setting it, the
// writer looks at the session once: what happened before is not repeated.
func (s *Session) SetWriter(w Waker) { s.wake.Store(w) }

func (s *Session) wakeWriter() {
	if w, ok := s.wake.Load().(Waker); ok {
		w.Wake()
	}
}

// End ends the session for reason (nil means [ErrClosed]); the first
// reason is kept. It wakes the writer, which closes the stream, and
// returns at once.
func (s *Session) End(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = reason
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
	if s.deadlines != nil {
		s.deadlines.remove(s)
	}
	s.wakeWriter()
}

// Done is closed when the session has ended; Err says why.
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.err != nil {
			close(s.done)
		}
	}
	return s.done
}

// Err is why the session ended, or nil while it lasts.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Ready is signalled when frames are due (see [hub.Subscription.Ready]).
func (s *Session) Ready() <-chan struct{} { return s.Sub.Ready() }

// Release ends the session (for reason, unless it had already ended),
// closes its hub subscription and gives back what admission took. Only
// the first call does anything.
func (s *Session) Release(reason error) {
	s.released.Do(func() {
		s.End(reason)
		s.Sub.Close()
		s.mu.Lock()
		r := s.registry
		s.mu.Unlock()
		if r != nil {
			r.remove(s)
		}
		if s.release != nil {
			s.release(s)
		}
	})
}

// Jitter spreads d over ±10% so that streams opened together do not all
// end (and reconnect) together.
func Jitter(d time.Duration) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}

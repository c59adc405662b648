package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state/tree"
)

// A store on a journal that other nodes append to too ([journal.Keyed],
// the JetStream journal) cannot advance its tree from its own writes: the
// writes of every node are interleaved in one order. Such a store follows
// the journal instead, applying every state event, whichever node wrote
// it, in journal order; a write returns once the follower has applied it,
// so a read on the node that wrote sees it.
//
// A write that does not depend on the tree (a put, a patch or a push
// without server values or condition) is computed alone and appended.
// One that does (an if-match, an increment) must be computed on every
// earlier write to its database, on any node: the store asks the journal
// for the position of the database's last write (the events of a database
// share a key), waits until its follower has applied it, computes, and
// appends expecting that position to be still the database's last. If
// another node wrote to the database meanwhile, the journal refuses it
// (journal.ErrKeyMoved) and the store computes again, up to
// maxConflicts times.

// maxConflicts bounds how many times a write that depends on the tree is
// computed again because other writes to its database came first.
const maxConflicts = 64

// ErrContended refuses a write that lost the race for its database
// maxConflicts times in a row.
var ErrContended = errors.New("state: too many concurrent writes to the database; try again")

// followLimits bound the values of the writes a store follows: looser
// than any node's own limits, so that a node never refuses a write that
// another node took, and every tree stays equal.
var followLimits = tree.Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10}

// catchUpTimeout bounds Open's wait for a shared store to apply what the
// journal held when it opened: the state events after the snapshot it
// starts from (all those retained, without one).
const catchUpTimeout = 10 * time.Minute

// openShared starts following the journal from loaded's position, and
// waits until the tree holds every event the journal held at the start.
func (s *Store) openShared(keyed journal.Keyed, after uint64, log *slog.Logger) error {
	s.keyed, s.log = keyed, log
	ctx, cancel := context.WithCancel(context.Background())
	s.stopFollow = cancel
	s.applied = after
	// Only the state events (the keyed ones), and markers of the
	// positions read.
	events, err := keyed.FollowKeyed(ctx, after)
	if err != nil {
		cancel()
		return fmt.Errorf("state: following the journal: %w", err)
	}
	go s.follow(events)
	wctx, wcancel := context.WithTimeout(ctx, catchUpTimeout)
	defer wcancel()
	last, err := s.j.Last(wctx)
	if err == nil {
		if last > after {
			log.Info("state: catching up with the journal", "from", after, "to", last)
		}
		err = s.waitApplied(wctx, last)
	}
	if err != nil {
		cancel()
		<-s.done
		return fmt.Errorf("state: catching up with the journal: %w", err)
	}
	return nil
}

// follow applies the journal's events to the committed tree, in order,
// until the follower ends (the store or the journal closed).
func (s *Store) follow(events <-chan *journal.Event) {
	defer close(s.done)
	for ev := range events {
		if IsEvent(ev) {
			ns, op, err := DecodeEvent(ev, followLimits)
			if err != nil {
				s.log.Error("state: skipping a state event that does not decode", "seq", ev.Seq, "err", err)
			} else {
				snap := s.committed.Load()
				s.committed.Store(&Snapshot{Seq: ev.Seq, all: snap.all.Set(tree.Path{ns}, snap.Root(ns).Apply(op))})
				if fn := s.onApply.Load(); fn != nil {
					(*fn)(ns, op)
				}
			}
		}
		s.amu.Lock()
		s.applied = ev.Seq
		if s.advanced != nil {
			close(s.advanced)
			s.advanced = nil
		}
		s.amu.Unlock()
	}
	s.amu.Lock()
	s.stopped = true
	if s.advanced != nil {
		close(s.advanced)
		s.advanced = nil
	}
	s.amu.Unlock()
}

// OnApply makes fn called with each write the store applies from a
// shared journal, whichever node made it, once a read sees it; writes
// of a store that is not shared are not followed, and do not call it.
func (s *Store) OnApply(fn func(ns string, op *tree.Op)) { s.onApply.Store(&fn) }

// Applied is the newest journal position the tree has followed: a read
// now sees every write up to it. On a store that is not shared, it is the
// newest write's.
func (s *Store) Applied() uint64 {
	if s.keyed == nil {
		return s.committed.Load().Seq
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.applied
}

// WaitApplied waits until a read sees every write up to journal position
// seq, made on any node, or ctx ends.
func (s *Store) WaitApplied(ctx context.Context, seq uint64) error {
	if s.keyed == nil {
		// A single node's tree holds every write that returned.
		return nil
	}
	return s.waitApplied(ctx, seq)
}

func (s *Store) waitApplied(ctx context.Context, seq uint64) error {
	for {
		s.amu.Lock()
		if s.applied >= seq {
			s.amu.Unlock()
			return nil
		}
		if s.stopped {
			s.amu.Unlock()
			return ErrClosed
		}
		if s.advanced == nil {
			s.advanced = make(chan struct{})
		}
		ch := s.advanced
		s.amu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeShared is Write on a shared journal.
func (s *Store) writeShared(ctx context.Context, w Write) (Result, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Result{}, ErrClosed
	}
	s.sharedWrites.Add(1)
	s.mu.Unlock()
	defer s.sharedWrites.Done()
	key := "db/" + w.NS
	for attempt := range maxConflicts {
		var last *uint64
		if dependsOnTree(w) {
			seq, err := s.keyed.LastOfKey(ctx, key)
			if err != nil {
				return Result{}, err
			}
			if err := s.waitApplied(ctx, seq); err != nil {
				return Result{}, err
			}
			last = &seq
		}
		s.mu.Lock()
		_, res, ev, err := s.prepare(w, s.committed.Load().all)
		s.mu.Unlock()
		if err != nil {
			return Result{}, err
		}
		wait, err := s.keyed.QueueKeyed(ctx, ev, key, last)
		if err == nil {
			err = wait()
		}
		if errors.Is(err, journal.ErrKeyMoved) {
			// Another write to the database came first, or is still in
			// flight (a clustered stream refuses a guarded write while
			// the subject has one): wait a little, longer each time,
			// and by a random part, so that writers racing on one
			// database take turns.
			t := time.NewTimer(rand.N(time.Duration(1+min(attempt, 5)) * time.Millisecond))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return Result{}, ctx.Err()
			}
			continue
		}
		if err != nil {
			return Result{}, err
		}
		// Stored: the answer waits until a read here sees it, whatever
		// ctx does, as on a single node.
		if err := s.waitApplied(context.Background(), ev.Seq); err != nil {
			return Result{}, err
		}
		res.Seq, res.ID = ev.Seq, ev.ID
		return res, nil
	}
	return Result{}, ErrContended
}

// dependsOnTree reports whether w is computed on the tree: a condition,
// or a server value (an increment adds to what is there).
func dependsOnTree(w Write) bool {
	if w.IfMatch != "" || w.Value.HasServerValues() {
		return true
	}
	for _, c := range w.Changes {
		if c.Value.HasServerValues() {
			return true
		}
	}
	return false
}

// closeWait bounds how long Close waits for the writes in progress on a
// shared journal: one whose append JetStream has not answered yet waits
// as long as JetStream is out of reach.
const closeWait = 10 * time.Second

// waitWrites waits, up to closeWait, for the writes in progress on a
// shared journal to be answered.
func (s *Store) waitWrites() {
	done := make(chan struct{})
	go func() {
		s.sharedWrites.Wait()
		close(done)
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("state: closing with writes still waiting for the journal")
	}
}

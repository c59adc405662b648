package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhub/herald/internal/journal"
)

// The journal's readers: events come from the cache of recent events,
// which holds every event the file does not hold yet, or else from the
// file, bounded by the last position the committer published.

// firstRetained is the position of the oldest retained event: the
// oldest in the file, or, when the newest MaxEvents are all younger than
// that, the oldest of them. The applier removes events from the file
// behind the log; readers must not see more than retention keeps
// meanwhile.
func (j *Journal) firstRetained() uint64 {
	first := j.first.Load()
	if n := uint64(j.opts.Retention.MaxEvents); n > 0 {
		if last := j.last.Load(); last >= n {
			first = max(first, last-n+1)
		}
	}
	return first
}

// fetch appends to buf the stored events with after < Seq <= until, in
// order, stopping when buf is full: from the cache of recent events when
// it holds them all, else from the file in one read transaction, then
// from the cache for those the file does not hold yet. It returns at
// least one event if any is retained in the range.
func (j *Journal) fetch(after, until uint64, buf []*journal.Event) ([]*journal.Event, error) {
	for {
		first := j.firstRetained()
		if evs, ok := j.recent.fetch(after, until, first, buf); ok {
			return evs, nil
		}
		n := len(buf)
		var applied uint64
		var err error
		buf, applied, err = j.fetchFile(max(after, first-1), until, buf)
		if err != nil || len(buf) == cap(buf) || applied >= until {
			return buf, err
		}
		// The rest is logged but was not in the file when it was read.
		// The cache holds it, unless the applier stored it meanwhile:
		// then the file has it, and the next turn reads it there.
		if len(buf) > n {
			evs, _ := j.recent.fetch(applied, until, first, buf)
			return evs, nil
		}
		after = max(after, applied)
	}
}

// fetchFile is fetch from the file, in one read transaction. It also
// returns the last position the file held then.
func (j *Journal) fetchFile(after, until uint64, buf []*journal.Event) ([]*journal.Event, uint64, error) {
	var applied uint64
	err := j.db.View(func(tx *bbolt.Tx) error {
		if lb := tx.Bucket(bucketMeta).Get(metaLast); len(lb) == 8 {
			applied = binary.BigEndian.Uint64(lb)
		}
		until := min(until, applied)
		cur := tx.Bucket(bucketEvents).Cursor()
		for k, v := cur.Seek(seqKey(after + 1)); k != nil && len(buf) < cap(buf); k, v = cur.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq > until {
				break
			}
			ev, err := decodeEvent(seq, v, j.epoch)
			if err != nil {
				// One damaged record must not stop every reader behind it
				// (the hub's feed would stall on it for good): skip it,
				// loudly.
				j.log.Error("journal: skipping an undecodable event", "path", j.path, "seq", seq, "err", err)
				continue
			}
			buf = append(buf, ev)
		}
		return nil
	})
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return buf, applied, journal.ErrClosed
	}
	return buf, applied, err
}

// Read calls fn, in order, for every retained event with Seq > after that
// was committed before Read began. It holds a read transaction only while
// decoding a batch of events, never while fn runs, so fn may be slow and
// may call the journal.
func (j *Journal) Read(ctx context.Context, after uint64, fn func(*journal.Event) error) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	return journal.ReadBatches(ctx, after, j.last.Load(), readBatch, j.fetch, fn)
}

// Follow returns every event with Seq > after, starting with the retained
// ones, in order, until ctx ends or the journal closes. A follower that
// falls behind catches up by reading the file; see [journal.Feed.Follow].
func (j *Journal) Follow(ctx context.Context, after uint64) (<-chan *journal.Event, error) {
	if j.isClosed() {
		return nil, journal.ErrClosed
	}
	// Followers read only up to the last position published by the
	// committer, which it stores once the commit is durable. bbolt lets new
	// read transactions see a commit while its meta page is still being
	// synced: reading past j.last would fan out an event that is not yet
	// durable, and that Read (bounded by j.last) would not replay — a gap
	// for a subscriber resuming at that moment.
	return j.feed.Follow(ctx, after, func(after uint64, buf []*journal.Event) ([]*journal.Event, error) {
		return j.fetch(after, j.last.Load(), buf)
	})
}

// Lookup maps a retained event's ID to its position. It answers from the
// file, bounded like Read by the last durable commit, so the two agree even
// while a commit is being applied.
func (j *Journal) Lookup(ctx context.Context, id string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if j.isClosed() {
		return 0, journal.ErrClosed
	}
	epoch, seq, generated := journal.ParseID(id)
	if generated && epoch != j.epoch {
		return 0, journal.ErrUnknownID
	}
	// The cache and the logged IDs first: the applier drops an event
	// from them only once the file holds it.
	first := j.firstRetained()
	if generated && seq <= j.last.Load() && seq >= first && j.recent.has(seq) {
		return seq, nil // a recent cursor: a long poll's, a fresh resume's
	}
	if !generated {
		if seq, ok := j.ids.lookup(id); ok {
			if seq > j.last.Load() || seq < first {
				return 0, journal.ErrUnknownID
			}
			return seq, nil
		}
	}
	found := false
	err := j.db.View(func(tx *bbolt.Tx) error {
		if generated {
			found = tx.Bucket(bucketEvents).Get(seqKey(seq)) != nil
			return nil
		}
		if v := tx.Bucket(bucketIDs).Get([]byte(id)); len(v) == keyLen {
			seq, found = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return 0, journal.ErrClosed
	}
	if err != nil {
		return 0, err
	}
	// Like Read, Lookup knows only what the committer has published, and
	// what retention keeps.
	if !found || seq > j.last.Load() || seq < first {
		return 0, journal.ErrUnknownID
	}
	return seq, nil
}

// timeAt is the time of the event at seq, from the cache of recent events
// or else the file; zero if neither has it.
func (j *Journal) timeAt(seq uint64) time.Time {
	if t, ok := j.recent.timeAt(seq); ok {
		return t
	}
	var t time.Time
	_ = j.db.View(func(tx *bbolt.Tx) error {
		if h, err := decodeHead(tx.Bucket(bucketEvents).Get(seqKey(seq))); err == nil {
			t = h.time
		}
		return nil
	})
	return t
}

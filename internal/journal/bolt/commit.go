package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
)

// trimBudget is how many events a transaction removes for retention on top
// of one per event it appends: enough to keep up with appends, small enough
// that a large backlog (after retention was lowered, or a long idle spell
// under MaxAge) is worked off over several short transactions instead of
// one that holds appends up.
const trimBudget = 1024

// request is one Append waiting for the committer.
type request struct {
	ctx context.Context
	// id is the publisher-chosen ID, empty for a generated one.
	id string
	// buf holds the key (keyLen bytes, written by the committer) then the
	// encoded record.
	buf []byte
	// ev is the event itself, kept only for the journal's views.
	ev *journal.Event

	// Set by the committer before it closes done.
	seq  uint64
	time time.Time
	err  error
	done chan struct{}
}

func (r *request) key() []byte    { return r.buf[:keyLen] }
func (r *request) record() []byte { return r.buf[keyLen:] }

// committer is the goroutine that writes the journal. It owns every write
// transaction, so positions are assigned in one place, without locks.
type committer struct {
	j     *Journal
	batch []*request
	// first is the oldest retained position; last+1 when none is retained.
	first uint64
	// oldest is the time of the oldest retained event; zero when none is.
	oldest time.Time
	// trimPending is set when a transaction stopped trimming at its budget.
	trimPending bool
	// expiry fires when the oldest event reaches Retention.MaxAge.
	expiry *time.Timer
}

func newCommitter(j *Journal) *committer {
	c := &committer{
		j:     j,
		batch: make([]*request, 0, j.opts.MaxBatch),
		// The first pass applies the retention of this Open to what an
		// earlier one left.
		trimPending: true,
		expiry:      time.NewTimer(time.Hour),
	}
	c.expiry.Stop()
	return c
}

// run commits batches of requests until Close closes the queue, then
// commits what is left and exits.
func (c *committer) run() {
	defer close(c.j.committed)
	defer c.expiry.Stop()
	for {
		var r *request
		var ok bool
		if c.trimPending {
			select {
			case r, ok = <-c.j.reqs:
			case answer := <-c.j.probes:
				answer <- c.probe()
				continue
			default:
				c.commit(nil)
				continue
			}
		} else {
			select {
			case r, ok = <-c.j.reqs:
			case answer := <-c.j.probes:
				answer <- c.probe()
				continue
			case <-c.expiry.C:
				c.commit(nil)
				continue
			}
		}
		if !ok {
			return
		}
		open := c.collect(r)
		c.commit(c.batch)
		clear(c.batch)
		if !open {
			return
		}
	}
}

// collect starts a batch with r and adds the requests already queued, up to
// MaxBatch. It reports false when the queue is closed and drained.
//
// When the queue runs dry, collect yields the processor, and yields again
// for as long as that brings more requests: the callers the previous commit
// just woke are runnable, and a publisher appending in a loop queues its
// next event within microseconds. Committing without them would make them
// wait a whole extra commit; 16 such publishers then settle into two
// alternating batches of 8 at half the throughput. With MaxBatchDelay set,
// collect waits up to that long for the batch to fill instead.
func (c *committer) collect(r *request) (open bool) {
	c.batch = append(c.batch[:0], r)
	var linger <-chan time.Time
	if d := c.j.opts.MaxBatchDelay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		linger = t.C
	}
	arrived := true
	for len(c.batch) < c.j.opts.MaxBatch {
		select {
		case r, ok := <-c.j.reqs:
			if !ok {
				return false
			}
			c.batch = append(c.batch, r)
			arrived = true
			continue
		default:
		}
		if linger != nil {
			select {
			case r, ok := <-c.j.reqs:
				if !ok {
					return false
				}
				c.batch = append(c.batch, r)
			case <-linger:
				return true
			}
			continue
		}
		if !arrived {
			return true
		}
		arrived = false
		runtime.Gosched()
	}
	return true
}

// commit writes batch and applies retention in one transaction, then wakes
// the batch's callers and the followers. With an empty batch it only
// applies retention.
func (c *committer) commit(batch []*request) {
	j := c.j
	now := time.Now()
	first, last := c.first, j.last.Load()
	var oldest time.Time
	var pending bool
	err := j.db.Update(func(tx *bbolt.Tx) error {
		events, ids := tx.Bucket(bucketEvents), tx.Bucket(bucketIDs)
		// Keys only ever grow: full pages waste no space and split less.
		events.FillPercent = 1.0
		appended := 0
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				// The caller has given up; do not store what it will not
				// report as stored.
				r.err = err
				continue
			}
			if r.id != "" && ids.Get([]byte(r.id)) != nil {
				r.err = journal.ErrDuplicateID
				continue
			}
			last++
			r.seq = last
			binary.BigEndian.PutUint64(r.key(), last)
			stampTime(r.record(), now)
			if err := events.Put(r.key(), r.record()); err != nil {
				return err
			}
			if r.id != "" {
				if err := ids.Put([]byte(r.id), r.key()); err != nil {
					return err
				}
			}
			if err := c.applyViews(tx, r, now); err != nil {
				return err
			}
			appended++
		}
		if appended > 0 {
			if err := tx.Bucket(bucketMeta).Put(metaLast, seqKey(last)); err != nil {
				return err
			}
		}
		var err error
		first, oldest, pending, err = c.trim(events, ids, first, last, now, appended+trimBudget)
		if err == nil && oldest.IsZero() && first <= last {
			// trim tells the oldest time only under a retention by age or
			// count; Stats wants it anyway, and it changes only with first.
			if first == c.first && !c.oldest.IsZero() {
				oldest = c.oldest
			} else if h, herr := decodeHead(events.Get(seqKey(first))); herr == nil {
				oldest = h.time
			}
		}
		return err
	})
	if err != nil {
		err = fmt.Errorf("journal/bolt: commit: %w", err)
		j.written.Store(&writeOutcome{at: now, err: err})
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			close(r.done)
		}
		// Leave retention for the next commit rather than retrying a
		// failing disk in a loop.
		c.trimPending = false
		return
	}

	c.first = first
	// Before last is published: a reader bounded by it finds the new
	// events in the cache or in the file.
	c.remember(batch)
	if last > j.last.Load() {
		// Only a commit that stored events shows that events can be
		// stored: one that just trimmed needed no room.
		j.written.Store(&writeOutcome{at: now})
	}
	j.last.Store(last)
	j.setRetained(first, oldest)
	c.oldest, c.trimPending = oldest, pending
	for _, r := range batch {
		r.time = now
		close(r.done)
	}
	if len(batch) > 0 {
		j.feed.Notify()
	}
	if age := j.opts.Retention.MaxAge; age > 0 && !c.oldest.IsZero() && !c.trimPending {
		c.expiry.Reset(c.oldest.Add(age).Sub(now))
	}
}

// remember adds the records a commit stored to the journal's cache of
// recent events.
func (c *committer) remember(batch []*request) {
	c.j.recent.add(func(yield func(uint64, []byte) bool) {
		for _, r := range batch {
			if r.err == nil && !yield(r.seq, r.record()) {
				return
			}
		}
	})
}

// trim removes, oldest first, the events retention no longer allows, at
// most budget of them. It returns the new first position, the time of the
// oldest event left (zero if none or unknown) and whether the budget ran
// out before retention was met.
func (c *committer) trim(events, ids *bbolt.Bucket, first, last uint64, now time.Time, budget int) (uint64, time.Time, bool, error) {
	ret := c.j.opts.Retention
	if ret == (journal.Retention{}) {
		return first, time.Time{}, false, nil
	}
	cutoff := now.Add(-ret.MaxAge)
	for ; first <= last; first++ {
		key := seqKey(first)
		record := events.Get(key)
		if record == nil {
			continue
		}
		// A record too damaged to decode cannot be served either: let it
		// go rather than stall retention behind it.
		h, err := decodeHead(record)
		expired := err != nil ||
			ret.MaxEvents > 0 && last-first+1 > uint64(ret.MaxEvents) ||
			ret.MaxAge > 0 && !h.time.After(cutoff)
		if !expired {
			return first, h.time, false, nil
		}
		if budget == 0 {
			return first, time.Time{}, true, nil
		}
		budget--
		if h.id != "" {
			if err := ids.Delete([]byte(h.id)); err != nil {
				return first, time.Time{}, false, err
			}
		}
		if err := events.Delete(key); err != nil {
			return first, time.Time{}, false, err
		}
	}
	return first, time.Time{}, false, nil
}

// probe answers a Check of a journal whose last write failed: it writes
// probeSize bytes and removes them in a second transaction, so that
// nothing is left behind, and records how that went. A probe asked for
// within probeInterval of the last write answers with that write's
// outcome, so that several Checks at once write once.
func (c *committer) probe() error {
	j := c.j
	if last := j.written.Load(); time.Since(last.at) < probeInterval {
		return last.err
	}
	err := j.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaProbe, make([]byte, probeSize(j.db)))
	})
	if err == nil {
		err = j.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Delete(metaProbe)
		})
	}
	if err != nil {
		err = fmt.Errorf("journal/bolt: probe: %w", err)
	}
	j.written.Store(&writeOutcome{at: time.Now(), err: err})
	return err
}

// probeSize is how much a probe writes: one page more than the pages free
// inside the file, so that it cannot be placed there and needs the file
// to grow, which is what a full disk refuses. A smaller write would land
// in pages that earlier commits freed and prove nothing: with the file's
// size limited, writes of 64 KiB and 1 MiB still committed where a
// 256 KiB event could not (bbolt keeps up to four such events in one
// leaf and rewrites it whole, so runs of free pages that large are
// common). Only the committer writes, so the free count read here is the
// one the probe meets.
//
// The size is at most maxProbeBytes, which bounds the cost of a probe of
// a large file with much free. A commit of events up to 4 MiB needs no
// longer run of free pages than that: either the file holds such a run,
// and room is not what failed (the probe then tests the rest: a read-only
// or failing disk), or it does not, and the probe needs the file to grow
// too.
func probeSize(db *bbolt.DB) int {
	st := db.Stats()
	free := st.FreePageN + st.PendingPageN
	return min((free+1)*db.Info().PageSize, maxProbeBytes)
}

package bolt

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
)

// trimBudget is how many events a transaction removes for retention on top
// of one per event it stores: enough to keep up with appends, small enough
// that a large backlog (after retention was lowered, or a long idle spell
// under MaxAge) is worked off over several short transactions instead of
// one that holds the applier up.
const trimBudget = 1024

// applyInterval is the least time between two transactions of the
// applier. Each costs two fsyncs and rewrites the B+tree's pages on the
// way to the new events: spaced out, they store more events each, and
// leave the disk to the log's syncs, which the publishers wait for. With
// none, 16 appenders reached 37,900 events/s on this project's benchmark
// machine; with 5 ms 68,600; with 10 to 20 ms, 76,000
// (BenchmarkAppendParallel). Readers find the events meanwhile in the
// cache of recent events. A variable for tests.
var applyInterval = 10 * time.Millisecond

// replayBatch is how many replayed events Open stores per transaction.
const replayBatch = 4096

// applier is the goroutine that stores logged events in the bbolt file:
// every event logged since its last transaction goes into the next one,
// with their IDs, the views and retention, which costs two fsyncs for
// all of them. It owns every write transaction of the file.
//
// While it cannot store (a full disk), it tries again every probeInterval
// and the committer refuses appends; the events already logged are
// durable and wait, in the log and in the cache of recent events.
type applier struct {
	j *Journal
	// applied is the newest position the file holds. Only the applier
	// writes it, after each transaction.
	applied atomic.Uint64

	mu sync.Mutex
	// pending are the logged events not stored yet, in order.
	pending []*recentEvent
	// attempt is closed when the next transaction ends, stored or not.
	attempt chan struct{}
	// err is why the last transaction failed; nil once one succeeds.
	err error

	wake   chan struct{}
	probes chan chan<- error
	stop   chan struct{}
	exited chan struct{}

	// Owned by the applier's goroutine.
	spare []*recentEvent
	// first is the oldest retained position; applied+1 when none is.
	first uint64
	// oldest is the time of the oldest retained event; zero when none is.
	oldest time.Time
	// trimPending is set when a transaction stopped trimming at its budget.
	trimPending bool
	// expiry fires when the oldest event reaches Retention.MaxAge.
	expiry *time.Timer
	// retry fires while the last transaction failed.
	retry *time.Timer
	// began is when the last transaction began; pause spaces them.
	began time.Time
	pause *time.Timer
}

func newApplier(j *Journal) *applier {
	a := &applier{
		j:       j,
		attempt: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		probes:  make(chan chan<- error),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
		// The first pass applies the retention of this Open to what an
		// earlier one left.
		trimPending: true,
		expiry:      time.NewTimer(time.Hour),
		retry:       time.NewTimer(time.Hour),
		pause:       time.NewTimer(time.Hour),
	}
	a.expiry.Stop()
	a.retry.Stop()
	a.pause.Stop()
	return a
}

// queue hands logged events, in order, to the applier.
func (a *applier) queue(logged []*recentEvent) {
	a.mu.Lock()
	a.pending = append(a.pending, logged...)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// failure is why the last transaction failed; nil if it succeeded.
func (a *applier) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// attempted returns a channel closed when the next transaction ends.
func (a *applier) attempted() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.attempt
}

// probe has the applier test that the file can grow (see probeSize).
func (a *applier) probe() error {
	answer := make(chan error, 1)
	a.probes <- answer
	return <-answer
}

// run stores what is logged until Close stops it, then stores what is
// left and exits.
func (a *applier) run() {
	defer close(a.exited)
	defer a.expiry.Stop()
	defer a.retry.Stop()
	for {
		if a.trimPending && a.failure() == nil {
			select {
			case answer := <-a.probes:
				answer <- a.probeFile()
				continue
			case <-a.stop:
				a.drain()
				return
			default:
			}
		} else {
			select {
			case <-a.wake:
				if !a.linger() {
					a.drain()
					return
				}
			case <-a.expiry.C:
			case <-a.retry.C:
			case answer := <-a.probes:
				err := a.probeFile()
				answer <- err
				if err != nil || a.failure() == nil {
					continue
				}
				// The file has room again: store what waits for it now,
				// not at the next retry.
			case <-a.stop:
				a.drain()
				return
			}
		}
		a.apply()
	}
}

// linger waits until applyInterval has passed since the last
// transaction began, so that it stores everything logged meanwhile. It
// reports false when Close stopped it.
func (a *applier) linger() bool {
	wait := time.Until(a.began.Add(applyInterval))
	if wait <= 0 {
		return true
	}
	a.pause.Reset(wait)
	select {
	case <-a.pause.C:
		return true
	case <-a.stop:
		a.pause.Stop()
		return false
	}
}

// drain stores what is pending, unless the file refuses it: the log
// keeps it for the next Open.
func (a *applier) drain() {
	for {
		a.mu.Lock()
		n := len(a.pending)
		a.mu.Unlock()
		if n == 0 || a.apply() != nil {
			return
		}
	}
}

// apply stores the pending events in one transaction, with retention.
func (a *applier) apply() error {
	a.began = time.Now()
	a.mu.Lock()
	batch := a.pending
	a.pending = a.spare[:0]
	a.mu.Unlock()

	err := a.store(batch)

	a.mu.Lock()
	if err != nil {
		// Back in front of what was logged meanwhile.
		a.pending = append(batch, a.pending...)
		a.spare = nil
	} else {
		clear(batch)
		a.spare = batch[:0]
	}
	a.err = err
	close(a.attempt)
	a.attempt = make(chan struct{})
	a.mu.Unlock()
	if err != nil {
		a.j.written.Store(&writeOutcome{at: time.Now(), err: err})
		a.retry.Reset(probeInterval)
	}
	return err
}

// store writes batch, consecutive logged events, and applies retention
// in one transaction; with an empty batch it only applies retention.
func (a *applier) store(batch []*recentEvent) error {
	j := a.j
	now := time.Now()
	first, applied := a.first, a.applied.Load()
	var oldest time.Time
	var pending bool
	err := j.db.Update(func(tx *bbolt.Tx) error {
		events, ids := tx.Bucket(bucketEvents), tx.Bucket(bucketIDs)
		// Keys only ever grow: full pages waste no space and split less.
		events.FillPercent = 1.0
		for _, e := range batch {
			key := seqKey(e.seq)
			if err := events.Put(key, e.record); err != nil {
				return err
			}
			if e.id != "" {
				if err := ids.Put([]byte(e.id), key); err != nil {
					return err
				}
			}
			if err := a.applyViews(tx, e); err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			applied = batch[len(batch)-1].seq
			if err := tx.Bucket(bucketMeta).Put(metaLast, seqKey(applied)); err != nil {
				return err
			}
		}
		var err error
		first, oldest, pending, err = a.trim(events, ids, first, applied, now, len(batch)+trimBudget)
		if err == nil && oldest.IsZero() && first <= applied {
			// trim tells the oldest time only under a retention by age or
			// count; Stats wants it anyway, and it changes only with first.
			if first == a.first && !a.oldest.IsZero() {
				oldest = a.oldest
			} else if h, herr := decodeHead(events.Get(seqKey(first))); herr == nil {
				oldest = h.time
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("journal/bolt: storing logged events: %w", err)
	}

	a.first = first
	a.applied.Store(applied)
	if len(batch) > 0 {
		j.ids.forget(batch)
		j.recent.release(applied)
		j.written.Store(&writeOutcome{at: now})
	}
	j.setRetained(first, oldest)
	a.oldest, a.trimPending = oldest, pending
	if age := j.opts.Retention.MaxAge; age > 0 && !a.oldest.IsZero() && !a.trimPending {
		a.expiry.Reset(a.oldest.Add(age).Sub(now))
	}
	return nil
}

// trim removes, oldest first, the events retention no longer allows, at
// most budget of them. It returns the new first position, the time of the
// oldest event left (zero if none or unknown) and whether the budget ran
// out before retention was met.
func (a *applier) trim(events, ids *bbolt.Bucket, first, last uint64, now time.Time, budget int) (uint64, time.Time, bool, error) {
	ret := a.j.opts.Retention
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
		// The ID may have been taken again since, by a later event.
		if h.id != "" && bytes.Equal(ids.Get([]byte(h.id)), key) {
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

// probeFile tests that the file can grow: it writes probeSize bytes and
// removes them in a second transaction, so that nothing is left behind.
func (a *applier) probeFile() error {
	db := a.j.db
	err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaProbe, make([]byte, probeSize(db)))
	})
	if err == nil {
		err = db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Delete(metaProbe)
		})
	}
	if err != nil {
		return fmt.Errorf("journal/bolt: probe: %w", err)
	}
	return nil
}

// probeSize is how much a probe writes: one page more than the pages free
// inside the file, so that it cannot be placed there and needs the file
// to grow, which is what a full disk refuses. A smaller write would land
// in pages that earlier commits freed and prove nothing: with the file's
// size limited, writes of 64 KiB and 1 MiB still committed where a
// 256 KiB event could not (bbolt keeps up to four such events in one
// leaf and rewrites it whole, so runs of free pages that large are
// common). Only the applier writes, so the free count read here is the
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

// replay stores the events Open read from the log past the file's last
// position, before the journal serves anything.
func (a *applier) replay(records []loggedRecord) error {
	for len(records) > 0 {
		n := min(len(records), replayBatch)
		batch := make([]*recentEvent, n)
		for i, r := range records[:n] {
			// A record the committer logged decodes; if not, it is stored
			// as it is and readers skip it, as any undecodable record.
			h, _ := decodeHead(r.record)
			batch[i] = &recentEvent{seq: r.seq, record: r.record, id: h.id}
		}
		if err := a.store(batch); err != nil {
			return err
		}
		records = records[n:]
	}
	return nil
}

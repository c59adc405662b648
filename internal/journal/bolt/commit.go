package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
)

// request is one Append waiting for the committer.
type request struct {
	ctx context.Context
	// id is the publisher-chosen ID, empty for a generated one.
	id string
	// record is the encoded event, stamped with its time by the
	// committer.
	record []byte

	// Set by the committer before it closes done.
	seq  uint64
	time time.Time
	err  error
	done chan struct{}
}

// maxKeptFrames is the largest buffer of log records the committer keeps
// from one batch for the next.
const maxKeptFrames = 1 << 20

// committer is the goroutine that writes the log. It owns every write to
// it, so positions are assigned in one place, without locks.
type committer struct {
	j     *Journal
	wal   *wal
	batch []*request
	// frames and logged are the batch's records, reused.
	frames []byte
	logged []*recentEvent
}

func newCommitter(j *Journal, w *wal) *committer {
	return &committer{j: j, wal: w, batch: make([]*request, 0, j.opts.MaxBatch)}
}

// run commits batches of requests until Close closes the queue, then
// commits what is left and exits.
func (c *committer) run() {
	defer close(c.j.committed)
	for {
		select {
		case r, ok := <-c.j.reqs:
			if !ok {
				return
			}
			open := c.collect(r)
			c.commit(c.batch)
			clear(c.batch)
			clear(c.logged)
			if !open {
				return
			}
		case answer := <-c.j.probes:
			answer <- c.probe()
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

// commit logs batch, syncs the log, and wakes the batch's callers and
// the followers, then hands the events to the applier.
func (c *committer) commit(batch []*request) {
	j := c.j
	if err := c.waitForRoom(); err != nil {
		c.fail(batch, err)
		return
	}
	now := time.Now()
	last := j.last.Load()
	lap := c.wal.lap()
	frames, logged := c.frames[:0], c.logged[:0]
	if err := c.assign(batch, func(r *request) {
		last++
		r.seq = last
		stampTime(r.record, now)
		frames = appendFrame(frames, lap, last, r.record)
		logged = append(logged, &recentEvent{seq: last, record: r.record, id: r.id})
	}); err != nil {
		c.j.ids.forget(logged)
		c.fail(batch, err)
		return
	}
	c.frames, c.logged = frames, logged
	if cap(c.frames) > maxKeptFrames {
		// A batch of large events: do not hold its copy while idle.
		c.frames = nil
	}
	if len(logged) == 0 {
		for _, r := range batch {
			close(r.done)
		}
		return
	}
	if err := c.wal.write(frames, last); err != nil {
		c.j.ids.forget(logged)
		c.fail(batch, err)
		return
	}

	// Before last is published: a reader bounded by it finds the new
	// events in the cache, or, once applied, in the file.
	j.recent.add(logged)
	j.applier.queue(logged)
	j.written.Store(&writeOutcome{at: now})
	j.last.Store(last)
	for _, r := range batch {
		r.time = now
		close(r.done)
	}
	j.feed.Notify()
}

// waitForRoom waits until the log can take a batch: until the applier
// has stored the other segment's events, when the active one is full. It
// fails while the applier cannot store events: the journal then refuses
// appends, as a journal whose file cannot grow must.
func (c *committer) waitForRoom() error {
	a := c.j.applier
	for {
		// Asked before the failure and the room, so that an attempt
		// finished in between is not missed.
		attempt := a.attempted()
		if err := a.failure(); err != nil {
			return err
		}
		if c.wal.room(a.applied.Load()) {
			return nil
		}
		<-attempt
	}
}

// assign calls store, in order, for each request of batch that is to be
// stored: not given up by its caller, and with no publisher-chosen ID
// that is already stored or logged. Its caller then assigns its position.
// The IDs of stored requests are recorded as logged.
func (c *committer) assign(batch []*request, store func(*request)) error {
	ids := &c.j.ids
	ids.mu.Lock()
	defer ids.mu.Unlock()
	// The file is asked after the logged IDs, in a transaction begun
	// while ids.mu is held: the applier forgets an ID, under ids.mu, only
	// once it is in the file.
	var tx *bbolt.Tx
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	// An ID is taken while its event is retained. Retention by count
	// runs ahead of the file: the applier may not have removed an event
	// that is no longer retained.
	first := c.j.firstRetained()
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			// The caller has given up; do not store what it will not
			// report as stored.
			r.err = err
			continue
		}
		if r.id != "" {
			if seq, logged := ids.m[r.id]; logged && seq >= first {
				r.err = journal.ErrDuplicateID
				continue
			}
			if tx == nil {
				var err error
				if tx, err = c.j.db.Begin(false); err != nil {
					return fmt.Errorf("journal/bolt: %w", err)
				}
			}
			if k := tx.Bucket(bucketIDs).Get([]byte(r.id)); len(k) == keyLen && binary.BigEndian.Uint64(k) >= first {
				r.err = journal.ErrDuplicateID
				continue
			}
		}
		store(r)
		if r.id != "" {
			ids.m[r.id] = r.seq
		}
	}
	return nil
}

// loggedIDs maps publisher-chosen IDs to their positions. The committer
// adds an ID when it logs its event (assign), and the applier removes it
// once the event is in the file, so that the ID is always found in one of
// them.
type loggedIDs struct {
	mu sync.Mutex
	m  map[string]uint64
}

// lookup returns the position of a logged ID.
func (l *loggedIDs) lookup(id string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq, ok := l.m[id]
	return seq, ok
}

// forget drops the IDs of events, once in the file or not logged after
// all. An ID that a later event took again stays.
func (l *loggedIDs) forget(events []*recentEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		if e.id != "" && l.m[e.id] == e.seq {
			delete(l.m, e.id)
		}
	}
}

// fail fails every request of batch not refused already with err, and
// wakes their callers.
func (c *committer) fail(batch []*request, err error) {
	c.j.written.Store(&writeOutcome{at: time.Now(), err: err})
	for _, r := range batch {
		if r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// probe answers a Check of a journal whose last write failed: it writes
// and syncs where the log's next records go, and has the applier probe
// the file. A probe asked for within probeInterval of the last write
// answers with that write's outcome, so that several Checks at once write
// once.
func (c *committer) probe() error {
	j := c.j
	if last := j.written.Load(); time.Since(last.at) < probeInterval {
		return last.err
	}
	err := c.wal.probe()
	if err == nil {
		err = j.applier.probe()
	}
	j.written.Store(&writeOutcome{at: time.Now(), err: err})
	return err
}

package bolt

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// recentEvents holds the records of the newest logged events, each
// decoded once, by its first reader, so that the readers of what was just
// written — the hub's feed, long polls, a subscriber resuming a moment
// later — get them without a read transaction and a decode each. It also
// holds every logged event the bbolt file does not hold yet, which no
// reader could find elsewhere: those it keeps whatever its bounds, until
// the applier has stored them (release). The write-ahead log bounds how
// many they are. Beyond them it keeps the newest recentMax events, and no
// more than recentBytes of records; an older event is read from the file.
//
// Its events have consecutive positions. The committer adds a batch's
// records before it publishes the batch's position (Journal.last), so a
// reader bounded by that position finds them here or in the file; it only
// appends them, so that the commits, which the publishers wait for, do
// not pay for the decoding.
type recentEvents struct {
	epoch string
	// log and path report records that do not decode.
	log  *slog.Logger
	path string
	mu   sync.RWMutex
	// ring holds n events from start, the oldest first; its length is a
	// power of two, recentMax or more.
	ring  []*recentEvent
	start int
	n     int
	bytes int
	// applied is the newest position the bbolt file holds: events up to
	// it may be evicted.
	applied uint64
}

// recentEvent is a logged record and, once a reader asked for it, the
// event it decodes to.
type recentEvent struct {
	seq    uint64
	record []byte
	// id is the event's publisher-chosen ID, empty for a generated one.
	id string
	ev atomic.Pointer[journal.Event]
}

// event decodes the record, once for every reader.
func (e *recentEvent) event(epoch string) (*journal.Event, error) {
	if ev := e.ev.Load(); ev != nil {
		return ev, nil
	}
	ev, err := decodeEvent(e.seq, e.record, epoch)
	if err != nil {
		return nil, err
	}
	if !e.ev.CompareAndSwap(nil, ev) {
		ev = e.ev.Load()
	}
	return ev, nil
}

const (
	// recentMax and recentBytes bound what recentEvents keeps: the
	// newest 4,096 events, and no more than 8 MiB of their records.
	recentMax   = 4096
	recentBytes = 8 << 20
)

// add appends the records of a batch, by position, evicting the oldest
// applied events to stay within bounds (the newest is always kept). A
// position that does not follow the newest empties the cache first: the
// committer's never do. The records must not change afterwards.
func (r *recentEvents) add(batch []*recentEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ring == nil {
		r.ring = make([]*recentEvent, recentMax)
	}
	for _, e := range batch {
		if r.n > 0 && r.at(r.n-1).seq+1 != e.seq {
			clear(r.ring)
			r.start, r.n, r.bytes = 0, 0, 0
		}
		r.evict(1, len(e.record))
		if r.n == len(r.ring) {
			// Every event held is one the file does not have yet.
			r.resize(2 * len(r.ring))
		}
		r.ring[(r.start+r.n)%len(r.ring)] = e
		r.n++
		r.bytes += len(e.record)
	}
}

// release records that the bbolt file holds every event up to applied,
// and evicts what is beyond the bounds.
func (r *recentEvents) release(applied uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = applied
	r.evict(0, 0)
	if len(r.ring) > recentMax && r.n <= len(r.ring)/4 {
		r.resize(len(r.ring) / 2)
	}
}

// evict drops the oldest applied events while the cache would hold more
// than recentMax events or recentBytes with more events of size bytes
// added.
func (r *recentEvents) evict(more, size int) {
	for r.n > 0 && (r.n+more > recentMax || r.bytes+size > recentBytes) && r.ring[r.start].seq <= r.applied {
		r.bytes -= len(r.ring[r.start].record)
		r.ring[r.start] = nil
		r.start = (r.start + 1) % len(r.ring)
		r.n--
	}
}

func (r *recentEvents) resize(size int) {
	ring := make([]*recentEvent, size)
	for i := range r.n {
		ring[i] = r.at(i)
	}
	r.ring, r.start = ring, 0
}

// at is the i-th event held, from the oldest.
func (r *recentEvents) at(i int) *recentEvent { return r.ring[(r.start+i)%len(r.ring)] }

// get is the event at seq, nil when the cache does not hold it. r.mu
// must be held.
func (r *recentEvents) get(seq uint64) *recentEvent {
	if r.n == 0 || seq < r.at(0).seq || seq >= r.at(0).seq+uint64(r.n) {
		return nil
	}
	return r.at(int(seq - r.at(0).seq))
}

// has reports whether the event at seq is in the cache.
func (r *recentEvents) has(seq uint64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.get(seq) != nil
}

// fetch appends to buf the events with max(after, first-1) < Seq <= until,
// up to buf's capacity, when it holds all of them; ok is false when it
// does not. A record that does not decode is skipped, and logged.
func (r *recentEvents) fetch(after, until, first uint64, buf []*journal.Event) ([]*journal.Event, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return buf, false
	}
	oldest := r.at(0).seq
	newest := oldest + uint64(r.n) - 1
	from := max(after+1, first)
	if from < oldest || until > newest {
		return buf, false
	}
	for seq := from; seq <= until && len(buf) < cap(buf); seq++ {
		ev, err := r.at(int(seq - oldest)).event(r.epoch)
		if err != nil {
			// As the file's readers do: one damaged record must not stop
			// every reader behind it. The file may not have it yet.
			r.log.Error("journal: skipping an undecodable event", "path", r.path, "seq", seq, "err", err)
			continue
		}
		buf = append(buf, ev)
	}
	return buf, true
}

// timeAt is the time of the event at seq, if the cache holds it.
func (r *recentEvents) timeAt(seq uint64) (time.Time, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.get(seq)
	if e == nil {
		return time.Time{}, false
	}
	h, err := decodeHead(e.record)
	return h.time, err == nil
}

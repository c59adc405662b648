package bolt

import (
	"iter"
	"sync"
	"sync/atomic"

	"github.com/heraldhub/herald/internal/journal"
)

// recentEvents holds the records of the newest committed events, each
// decoded once, by its first reader, so that the readers of what was just
// written — the hub's feed, long polls, a subscriber resuming a moment
// later — get them without a read transaction and a decode each. It is
// bounded in events and in bytes; an older event is read from the file.
//
// Its events have consecutive positions. The committer adds a commit's
// records before it publishes the commit's position (Journal.last), so a
// reader bounded by that position finds them here or in the file; it only
// appends them, so that the commits, which the publishers wait for, do
// not pay for the decoding.
type recentEvents struct {
	epoch string
	mu    sync.RWMutex
	ring  []*recentEvent // capacity recentMax; the oldest at start
	start int
	n     int
	bytes int
}

// recentEvent is a committed record and, once a reader asked for it, the
// event it decodes to.
type recentEvent struct {
	seq    uint64
	record []byte
	ev     atomic.Pointer[journal.Event]
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

// add appends the records of a commit, by position, evicting the oldest
// to stay within bounds (the newest is always kept). A position that does
// not follow the newest empties the cache first. The records must not
// change afterwards.
func (r *recentEvents) add(records iter.Seq2[uint64, []byte]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ring == nil {
		r.ring = make([]*recentEvent, recentMax)
	}
	for seq, record := range records {
		if r.n > 0 && r.ring[(r.start+r.n-1)%recentMax].seq+1 != seq {
			r.resetLocked()
		}
		for r.n > 0 && (r.n == recentMax || r.bytes+len(record) > recentBytes) {
			r.bytes -= len(r.ring[r.start].record)
			r.ring[r.start] = nil
			r.start = (r.start + 1) % recentMax
			r.n--
		}
		r.ring[(r.start+r.n)%recentMax] = &recentEvent{seq: seq, record: record}
		r.n++
		r.bytes += len(record)
	}
}

func (r *recentEvents) resetLocked() {
	clear(r.ring)
	r.start, r.n, r.bytes = 0, 0, 0
}

// has reports whether the event at seq is in the cache.
func (r *recentEvents) has(seq uint64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.n > 0 && seq >= r.ring[r.start].seq && seq < r.ring[r.start].seq+uint64(r.n)
}

// fetch appends to buf the events with max(after, first-1) < Seq <= until,
// up to buf's capacity, when it holds all of them; ok is false when it
// does not, or when one does not decode (the caller reads the file, which
// skips it and says so).
func (r *recentEvents) fetch(after, until, first uint64, buf []*journal.Event) ([]*journal.Event, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return buf, false
	}
	oldest := r.ring[r.start].seq
	newest := oldest + uint64(r.n) - 1
	from := max(after+1, first)
	if from < oldest || until > newest {
		return buf, false
	}
	n := len(buf)
	for seq := from; seq <= until && len(buf) < cap(buf); seq++ {
		ev, err := r.ring[(r.start+int(seq-oldest))%recentMax].event(r.epoch)
		if err != nil {
			return buf[:n], false
		}
		buf = append(buf, ev)
	}
	return buf, true
}

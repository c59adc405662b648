package journal

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"
)

// readBatch is how many events Read copies out under the lock at a time, so
// fn runs without holding it and memory stays bounded by one batch.
const readBatch = 512

// Memory is a [Journal] held in process memory. It is what a single node
// uses when durability across restarts does not matter, and the reference
// the other implementations are tested against.
//
// Each Memory has its own random epoch, so IDs issued by another instance,
// or by this one before a restart, are unknown to it.
//
// Retention by count is applied on Append. Retention by age is applied
// lazily: every method first drops the events that have expired, so an
// expired event is never returned, and its memory is released at the next
// call of any method.
//
// Events returned by Read and Follow are copies of the stored ones, but
// share their Topics and Data, which must not be modified.
type Memory struct {
	retention Retention
	epoch     string
	feed      *Feed

	mu sync.Mutex
	// events holds the retained events, oldest first; positions are
	// contiguous, so events[i].Seq == first+i.
	events []*Event
	// last is the position of the newest event ever appended; it survives
	// the trimming of every event.
	last uint64
	// ids maps retained publisher-chosen IDs to their positions.
	ids    map[string]uint64
	closed bool
}

var (
	_ Journal       = (*Memory)(nil)
	_ Checker       = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
	_ Queuer        = (*Memory)(nil)
)

// NewMemory returns an empty in-memory journal that keeps what ret allows.
func NewMemory(ret Retention) *Memory {
	return &Memory{
		retention: ret,
		epoch:     NewEpoch(),
		feed:      NewFeed(),
		ids:       make(map[string]uint64),
	}
}

// Epoch returns the epoch embedded in the IDs this journal generates.
func (m *Memory) Epoch() string { return m.epoch }

// Append stores a copy of ev and sets ev.Seq, ev.Time and, when empty,
// ev.ID. A reserved ID is refused with an error wrapping ErrReservedID
// (see [CheckReservedID]), one still retained with ErrDuplicateID.
func (m *Memory) Append(ctx context.Context, ev *Event) error {
	if err := CheckReservedID(ev.ID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	now := time.Now()
	m.trim(now)
	if ev.ID != "" {
		if _, dup := m.ids[ev.ID]; dup {
			m.mu.Unlock()
			return ErrDuplicateID
		}
	}
	m.last++
	stored := &Event{
		ID:      ev.ID,
		Seq:     m.last,
		Topics:  slices.Clone(ev.Topics),
		Type:    ev.Type,
		Data:    bytes.Clone(ev.Data),
		Retry:   ev.Retry,
		Private: ev.Private,
		Time:    now,
	}
	if stored.ID == "" {
		stored.ID = FormatID(m.epoch, stored.Seq)
	} else {
		m.ids[stored.ID] = stored.Seq
	}
	m.events = append(m.events, stored)
	m.trim(now)
	m.mu.Unlock()

	ev.ID, ev.Seq, ev.Time = stored.ID, stored.Seq, stored.Time
	m.feed.Notify()
	return nil
}

// Queue appends ev at once (a memory append does not wait for a disk) and
// returns a wait that reports nothing more; see [Queuer].
func (m *Memory) Queue(ctx context.Context, ev *Event) (wait func() error, err error) {
	if err := m.Append(ctx, ev); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// Pipelined reports true: Append is Queue then wait (see [Pipeliner]).
func (m *Memory) Pipelined() bool { return true }

// trim drops the events that retention no longer allows. m.mu must be held.
func (m *Memory) trim(now time.Time) {
	n := 0
	if limit := m.retention.MaxEvents; limit > 0 && len(m.events) > limit {
		n = len(m.events) - limit
	}
	if age := m.retention.MaxAge; age > 0 {
		cutoff := now.Add(-age)
		for n < len(m.events) && !m.events[n].Time.After(cutoff) {
			n++
		}
	}
	if n == 0 {
		return
	}
	for _, ev := range m.events[:n] {
		if !isGenerated(ev.ID) {
			delete(m.ids, ev.ID)
		}
	}
	// Clear the dropped pointers so the backing array does not keep the
	// events alive until append next reallocates it.
	clear(m.events[:n])
	m.events = m.events[n:]
}

// first is the position of the oldest retained event (last+1 when none is).
// m.mu must be held.
func (m *Memory) first() uint64 { return m.last - uint64(len(m.events)) + 1 }

// fetch appends to buf copies of the retained events with after < Seq <=
// until, stopping when buf is full.
func (m *Memory) fetch(after, until uint64, buf []*Event) ([]*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return buf, ErrClosed
	}
	m.trim(time.Now())
	first := m.first()
	if after < first {
		after = first - 1
	}
	for i := after - first + 1; i < uint64(len(m.events)) && len(buf) < cap(buf); i++ {
		ev := m.events[i]
		if ev.Seq > until {
			break
		}
		c := *ev
		buf = append(buf, &c)
	}
	return buf, nil
}

// Read calls fn, in order, for every retained event with Seq > after that
// was appended before Read began. fn runs without any lock held, so it may
// call the journal.
func (m *Memory) Read(ctx context.Context, after uint64, fn func(*Event) error) error {
	until, err := m.Last(ctx)
	if err != nil {
		return err
	}
	return ReadBatches(ctx, after, until, readBatch, m.fetch, fn)
}

// Follow returns every event with Seq > after, starting with the retained
// ones, in order, until ctx ends or the journal closes. See [Feed.Follow].
func (m *Memory) Follow(ctx context.Context, after uint64) (<-chan *Event, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return m.feed.Follow(ctx, after, func(after uint64, buf []*Event) ([]*Event, error) {
		return m.fetch(after, ^uint64(0), buf)
	})
}

// Lookup maps a retained event's ID to its position.
func (m *Memory) Lookup(ctx context.Context, id string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	m.trim(time.Now())
	if epoch, seq, ok := ParseID(id); ok {
		if epoch != m.epoch || seq < m.first() || seq > m.last {
			return 0, ErrUnknownID
		}
		return seq, nil
	}
	seq, ok := m.ids[id]
	if !ok {
		return 0, ErrUnknownID
	}
	return seq, nil
}

// Last returns the position of the newest event appended, even if
// retention has since dropped it; 0 when none was.
func (m *Memory) Last(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.last, nil
}

// Stats returns what m holds, after dropping what has expired.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Stats{}
	}
	m.trim(time.Now())
	if len(m.events) == 0 {
		return Stats{}
	}
	return Stats{Events: uint64(len(m.events)), Oldest: m.events[0].Time}
}

// Check reports whether m can commit: a memory journal always can, until
// it is closed.
func (m *Memory) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close releases the events and closes every Follow channel. Later calls
// fail with ErrClosed, except Close, which returns nil.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.events = nil
	m.ids = nil
	m.mu.Unlock()
	m.feed.Close()
	return nil
}

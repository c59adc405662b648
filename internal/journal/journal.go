package journal

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Event is one published message. ID is assigned by the journal unless the
// publisher chose one.
type Event struct {
	// ID is opaque to clients. A generated ID encodes the journal's epoch and
	// the event's position (see [FormatID]); a publisher-chosen ID resolves
	// through the journal's index.
	ID string
	// Seq is the journal position: strictly increasing, identical on every node.
	Seq uint64
	// Topics holds the canonical topic first; the rest are alternates (Mercure).
	Topics []string
	// Type is the SSE `event:` field; empty means "message".
	Type string
	// Data is the payload, sent as one or more `data:` lines.
	Data []byte
	// Retry is an optional reconnection hint sent as `retry:`.
	Retry time.Duration
	// Private events reach only subscribers whose grants match one of Topics.
	Private bool
	// Time is when the journal accepted the event; set by Append, used for
	// retention by age.
	Time time.Time
}

// Journal is the ordered, durable record of events.
//
// Implementations are safe for concurrent use.
type Journal interface {
	// Append stores ev, assigning ev.Seq, ev.Time and, when empty, ev.ID.
	// The event is durable when Append returns nil. Concurrent appends may be
	// committed together (group commit). A publisher-chosen ID that is
	// already stored is refused with ErrDuplicateID.
	Append(ctx context.Context, ev *Event) error
	// Read calls fn, in order, for every retained event with Seq > after.
	// It streams: memory use does not grow with the number of events read.
	// An error from fn stops the read and is returned.
	Read(ctx context.Context, after uint64, fn func(*Event) error) error
	// Follow returns every event appended (by any node) with Seq > after,
	// in order, with no gap, until ctx ends; then the channel is closed.
	Follow(ctx context.Context, after uint64) (<-chan *Event, error)
	// Lookup maps an event ID to its position. An ID that was never stored,
	// belongs to another epoch or is no longer retained gives ErrUnknownID.
	Lookup(ctx context.Context, id string) (seq uint64, err error)
	// Last is the position of the newest stored event (0 when empty).
	Last(ctx context.Context) (uint64, error)
	// Epoch names this journal's history. Generated IDs carry it (see
	// [FormatID]), and Lookup resolves the generated ID of any retained
	// position, whatever the ID of the event there.
	Epoch() string
	// Close releases the journal; pending appends are flushed first.
	Close() error
}

// Checker is implemented by a journal that can tell whether an Append
// would be stored now, which [Journal.Last] (an answer from memory) does
// not say. Readiness checks use it when a journal implements it.
type Checker interface {
	// Check reports whether the journal can commit now: nil if it can, else
	// why not (ErrClosed once closed). It may write to find out, so it can
	// take as long as a commit; it returns ctx's error if ctx ends first.
	Check(ctx context.Context) error
}

// Queuer is implemented by a journal whose appends can be queued without
// waiting for their commit: events are stored in the order of the Queue
// calls that returned, and wait reports the outcome as [Journal.Append]
// would (setting ev's fields). A writer that must fix the order of its
// events (the state tree computes each write on the one before) queues
// them under its lock and waits outside it. ev must not change until wait
// returns.
type Queuer interface {
	Queue(ctx context.Context, ev *Event) (wait func() error, err error)
}

// Pipeliner is implemented by a [Queuer] whose Append is Queue then
// wait, with nothing more, when Pipelined says so: a writer that queues
// several events and then waits for them gets what appending them one
// after another would have stored, in the same order, and the journal
// commits them together. The bolt and memory journals are; the JetStream
// journal is not: its Append sends an event again after a failed attempt
// (riding out a leader election), which a queue of events cannot do
// without reordering them.
type Pipeliner interface {
	Queuer
	Pipelined() bool
}

// Keyed is implemented by a journal that several nodes append to, which
// can order the writers of one key across the nodes: an event queued with
// a key and an expected last position is stored only if the newest
// retained event of that key is at that position, the check and the store
// one step in the journal. A writer that computes an event on what the
// key's earlier events made (the state tree's conditional writes and
// increments) reads the key's last position, catches up to it, computes,
// and queues with it; a refusal ([ErrKeyMoved]) means another node wrote
// the key meanwhile, and the writer computes again.
type Keyed interface {
	// LastOfKey returns the position of the newest retained event of
	// key, 0 when none is.
	LastOfKey(ctx context.Context, key string) (uint64, error)
	// QueueKeyed is [Queuer.Queue] for an event of key. With last not
	// nil, the event is stored only if the newest retained event of key
	// is at *last (0: none is); otherwise wait returns ErrKeyMoved. ev
	// must not have a publisher-chosen ID.
	QueueKeyed(ctx context.Context, ev *Event, key string, last *uint64) (wait func() error, err error)
	// FollowKeyed is [Journal.Follow] for the events queued with a key,
	// of any key, without reading the others. When it has read up to a
	// position with none after the last it delivered, it delivers an
	// Event with only Seq set: every keyed event up to Seq is delivered.
	FollowKeyed(ctx context.Context, after uint64) (<-chan *Event, error)
}

// Stats is what a journal holds now.
type Stats struct {
	// Events is the number of events retained.
	Events uint64
	// Oldest is when the oldest retained event was appended; zero when
	// none is.
	Oldest time.Time
	// Pending is how many of the retained events are durable in a
	// write-ahead log and not yet in the journal's main store (the bolt
	// journal's file); always 0 for a journal without such a log. It
	// grows while the store falls behind or cannot be written.
	Pending uint64
}

// StatsReporter is implemented by a journal that can say what it holds
// without reading it (metrics ask at every scrape).
type StatsReporter interface {
	// Stats returns what the journal holds; the zero Stats once closed.
	Stats() Stats
}

// Retention bounds what a journal keeps. The zero value keeps everything.
type Retention struct {
	// MaxEvents is the most events kept; 0 means no limit.
	MaxEvents int
	// MaxAge is how long an event is kept; 0 means no limit.
	MaxAge time.Duration
}

var (
	// ErrUnknownID reports an event ID that the journal cannot resolve: never
	// stored, from another epoch, or older than retention.
	ErrUnknownID = errors.New("journal: unknown event ID")
	// ErrDuplicateID reports a publisher-chosen ID that is already stored.
	ErrDuplicateID = errors.New("journal: duplicate event ID")
	// ErrKeyMoved refuses an event queued with an expected last position
	// of its key that is no longer the key's last (see [Keyed]).
	ErrKeyMoved = errors.New("journal: another event of the key was stored")
	// ErrClosed reports use of a closed journal.
	ErrClosed = errors.New("journal: closed")
)

// idPrefix starts every generated ID; publishers may not use it.
const idPrefix = "urn:herald:"

// FormatID returns the generated ID of the event at seq in a journal whose
// epoch is epoch: "urn:herald:<epoch>:<seq>".
func FormatID(epoch string, seq uint64) string {
	return idPrefix + epoch + ":" + strconv.FormatUint(seq, 10)
}

// ParseID splits a generated ID into its epoch and position. ok is false for
// any other string (a publisher-chosen ID).
func ParseID(id string) (epoch string, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found {
		return "", 0, false
	}
	epoch, num, found := strings.Cut(rest, ":")
	if !found || epoch == "" {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return epoch, seq, true
}

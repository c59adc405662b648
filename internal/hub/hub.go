package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/sse"
)

// DefaultQueueBytes is the per-subscriber queue bound used when
// [Config.QueueBytes] is zero. Frames are shared between subscribers, so the
// bound is less a memory reservation than a measure of how far a client may
// fall behind: 1 MiB absorbs bursts of thousands of ordinary events, and a
// client further behind than that is better served by reconnecting and
// replaying from the journal than by pinning frames here.
const DefaultQueueBytes = 1 << 20

var (
	// ErrSlowConsumer ends a subscription whose queue outgrew
	// [Config.QueueBytes]. The subscriber may reconnect with the ID of the
	// last event it received and lose nothing.
	ErrSlowConsumer = errors.New("hub: slow consumer")
	// ErrHubClosed ends every subscription when [Hub.Run] returns, and is
	// returned by [Hub.Subscribe] afterwards.
	ErrHubClosed = errors.New("hub: closed")
	// ErrClosed is returned by [Subscription.Replay] when the subscription
	// was closed by its owner while replaying.
	ErrClosed = errors.New("hub: subscription closed")
	// ErrNoSelectors reports a subscription request without any selector.
	ErrNoSelectors = errors.New("hub: subscription has no selector")
)

// Config tunes a [Hub]. The zero value works.
type Config struct {
	// QueueBytes bounds each subscriber's queue, as the sum of the lengths
	// of the frames waiting in it (default [DefaultQueueBytes]). A single
	// frame larger than the bound is still accepted into an empty queue, so
	// that a large event does not cut every subscriber.
	QueueBytes int
	// Logger receives the events the hub cannot deliver (default
	// slog.Default()).
	Logger *slog.Logger
	// Limits bounds the events [Hub.Publish] accepts; the zero value of
	// each field is its default (see [journal.Limits]).
	Limits journal.Limits
}

// Hub fans the events of one journal out to subscriptions. It is safe for
// concurrent use.
type Hub struct {
	journal    journal.Journal
	queueBytes int
	log        *slog.Logger
	limits     journal.Limits

	index index
	ids   *subscriberIDs

	// current is the event being fanned out, or the last one. It is stored
	// before the event visits the index, which is what makes
	// [Subscription.HeadID] exact; see Subscribe.
	current atomic.Pointer[journal.Event]

	running atomic.Bool
	closed  atomic.Bool
	started chan struct{} // closed once Run follows the journal

	// Owned by the fan-out goroutine: subscriptions cut during the current
	// event and callbacks due once the shard lock is released. Both are
	// reused from event to event.
	evict  []*Subscription
	notify []*Subscription
	// announced counts the announcements fanned out, for their keys.
	announced uint64

	announcements chan []*journal.Event

	// recent holds the messages of the latest events fanned out, by Seq
	// modulo its size, so that a replay of a recent event (a poll, a
	// reconnection) shares the message, and with it the frames every
	// transport already encoded, instead of encoding them again.
	recent [recentMessages]atomic.Pointer[Message]

	stats counters
}

// Bounds of Hub.recent: the events kept, and the largest kept (a few MiB
// of frames at most).
const (
	recentMessages   = 256
	recentEventBytes = 16 << 10
)

// message returns the message of ev, a recent one's if the hub kept it.
func (h *Hub) message(ev *journal.Event) *Message {
	if m := h.recent[ev.Seq%recentMessages].Load(); m != nil && m.Event.Seq == ev.Seq && m.Event.ID == ev.ID {
		return m
	}
	return newMessage(ev)
}

// New returns a hub on j. Call [Hub.Run] to start delivering.
func New(j journal.Journal, cfg Config) *Hub {
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Hub{journal: j, queueBytes: cfg.QueueBytes, log: cfg.Logger, limits: cfg.Limits, started: make(chan struct{}),
		announcements: make(chan []*journal.Event, maxAnnouncements)}
	h.index.init()
	h.ids = newSubscriberIDs()
	return h
}

// Run follows the journal from its current head and fans every event out
// until ctx ends or the journal refuses to be followed (it was closed).
// Should the journal's feed stop on its own, Run follows it again from the
// last event, after a short back-off. Subscriptions may be made before
// Run. When Run returns, the hub is closed: every subscription ends
// with [ErrHubClosed] and Subscribe refuses new ones. Run may be called
// once.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return errors.New("hub: Run called twice")
	}
	defer h.shutdown()
	// The feed's goroutine, if any, must not outlive Run whatever ends it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	head, err := h.journal.Last(ctx)
	if err != nil {
		return fmt.Errorf("hub: reading the journal head: %w", err)
	}
	if err := h.loadHead(ctx, head); err != nil {
		return err
	}
	feed, err := h.journal.Follow(ctx, head)
	if err != nil {
		return fmt.Errorf("hub: following the journal: %w", err)
	}
	close(h.started)
	after := head
	var delay time.Duration
	for {
		for ev := range h.events(feed) {
			h.fanout(ev)
			after = ev.Seq
			delay = 0
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// The feed stopped on its own: the journal failed, perhaps for a
		// moment (a lost connection to a cluster). Following again from
		// the last event fanned out loses nothing; a closed journal
		// refuses, and ends Run.
		h.log.Warn("hub: the journal feed stopped; following again", "after", after, "in", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(max(2*delay, minRefollowDelay), maxRefollowDelay)
		if feed, err = h.journal.Follow(ctx, after); err != nil {
			return fmt.Errorf("hub: following the journal: %w", err)
		}
	}
}

// Bounds of the wait between attempts to follow a journal whose feed
// stopped. The first attempt is immediate.
const (
	minRefollowDelay = 50 * time.Millisecond
	maxRefollowDelay = 5 * time.Second
)

// Started returns a channel closed once [Hub.Run] follows the journal:
// every event appended from then on is delivered live. Readiness probes
// wait on it; so do callers that subscribe and publish right after starting
// Run, since an event appended before Run reads the journal head counts as
// history.
func (h *Hub) Started() <-chan struct{} { return h.started }

// HeadID is the ID of the newest event the hub has fanned out (or is
// fanning out), or "" before Run has read the journal head. It is the
// Mercure subscriptions API's lastEventID.
func (h *Hub) HeadID() string {
	if ev := h.current.Load(); ev != nil {
		return ev.ID
	}
	return ""
}

// errFound stops a journal read once the wanted event was seen.
var errFound = errors.New("found")

// loadHead makes the event at seq the hub's current one, so that
// subscriptions made before the first live event still get a HeadID.
func (h *Hub) loadHead(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	head := &journal.Event{Seq: seq}
	err := h.journal.Read(ctx, seq-1, func(ev *journal.Event) error {
		if ev.Seq == seq {
			head = ev
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return fmt.Errorf("hub: reading the journal head: %w", err)
	}
	// When the head was trimmed meanwhile its ID is unknown; HeadID is then
	// empty, which callers already handle as "no position to offer".
	h.current.Store(head)
	return nil
}

// shutdown closes the hub and ends every subscription.
func (h *Hub) shutdown() {
	// Subscribe checks closed after registering; storing it before the
	// sweep means every subscription is either swept or sees closed.
	h.closed.Store(true)
	for _, s := range h.index.all() {
		h.end(s, ErrHubClosed)
	}
}

// end ends s with err and takes it out of the index.
func (h *Hub) end(s *Subscription, err error) {
	ended := s.end(err)
	h.index.remove(s)
	if ended {
		s.notifyReady()
	}
}

// Publish validates ev and appends it to the journal, which assigns ev.Seq
// and, when empty, ev.ID. Delivery happens through [Hub.Run], on this node
// and on every other node following the same journal. The error is one of
// [Hub.Validate] or comes from the journal.
func (h *Hub) Publish(ctx context.Context, ev *journal.Event) error {
	wait, err := h.Queue(ctx, ev)
	if err != nil {
		return err
	}
	return wait()
}

// Queue is Publish in two steps: it validates ev and queues it in the
// journal, and wait waits until it is stored and sets ev's fields, as
// Publish does. Events are stored in the order of the Queue calls that
// returned, so a publisher that pipelines (a WebSocket's) queues its
// events one after another and waits for them together, and the journal
// commits them together. ev must not change until wait returns. With a
// journal that cannot pipeline ([journal.Pipeliner]: JetStream's), Queue
// appends, and wait only reports how that went.
func (h *Hub) Queue(ctx context.Context, ev *journal.Event) (wait func() error, err error) {
	if err := h.Validate(ev); err != nil {
		return nil, err
	}
	var stored func() error
	if p, ok := h.journal.(journal.Pipeliner); ok && p.Pipelined() {
		if stored, err = p.Queue(ctx, ev); err != nil {
			return nil, err
		}
	} else {
		err := h.journal.Append(ctx, ev)
		stored = func() error { return err }
	}
	return func() error {
		if err := stored(); err != nil {
			return err
		}
		h.stats.published.Add(1)
		return nil
	}, nil
}

// Validate reports whether Publish would accept ev: it applies
// [journal.Event.Validate] with [Config.Limits], and returns nil or a
// [*journal.EventError] (an [journal.ErrInvalidEvent]). An event refused
// here never reaches the journal, where one that cannot be framed would
// reach no subscriber. Callers with checks of their own to make before
// publishing (the server checks the publisher's grants) call it first, so
// that a malformed event is answered as such.
func (h *Hub) Validate(ev *journal.Event) error { return ev.Validate(h.limits) }

// deliverable reports why a journaled event cannot be delivered, or nil.
// Publish refuses such events; one can only come from a journal written by
// something else, and fan-out and replay skip it alike.
func deliverable(ev *journal.Event) error {
	return (sse.Event{ID: ev.ID, Type: ev.Type}).Validate()
}

// visible is the rule for private events, the one place it is written: a
// private event reaches only a subscriber granted one of its topics.
func visible(ev *journal.Event, grants selector.Set) bool {
	return !ev.Private || grants.MatchAny(ev.Topics)
}

// Message is one event ready to write, shared by every subscriber it is
// delivered to. Its Event must not be modified.
type Message struct {
	Event *journal.Event
	// key tells messages apart for the fan-out's dedupe: the Seq of a
	// journaled event, or announcementKey and a count for an announcement.
	key uint64
	// size is what the message counts against a queue's bound: its
	// payload and fields, whatever the transport that writes it.
	size int
	// frames caches each format's encoding, made by the first writer that
	// asks; see Frame.
	frames [maxFormats]atomic.Pointer[[]byte]
}

// frameOverhead is added to a message's fields in its queue size: about
// what the field names and line ends of any transport's frame add.
const frameOverhead = 32

func newMessage(ev *journal.Event) *Message {
	return &Message{Event: ev, key: ev.Seq, size: len(ev.ID) + len(ev.Type) + len(ev.Data) + frameOverhead}
}

// announced reports whether m is an announcement: live only, with no
// place in the journal.
func (m *Message) announced() bool { return m.key&announcementKey != 0 }

// Format is one transport's encoding of an event: an SSE frame, a
// WebSocket message. A message is encoded once per format, by the first
// writer that needs it, and the bytes are shared by every subscriber of
// that transport.
type Format struct {
	slot   int
	encode func(*journal.Event) []byte
}

// maxFormats is how many formats a process may register: one per
// transport, with room to spare.
const maxFormats = 4

var formatCount atomic.Int32

// NewFormat registers the encoding of a transport. encode must not fail
// for an event that [Hub.Publish] accepts and must not keep ev. Call
// NewFormat once per format, when a package is initialized; it panics
// past a handful of formats.
func NewFormat(encode func(ev *journal.Event) []byte) *Format {
	n := int(formatCount.Add(1)) - 1
	if n >= maxFormats {
		panic("hub: too many formats")
	}
	return &Format{slot: n, encode: encode}
}

// Frame returns m encoded in format f. The bytes are shared and must not
// be modified.
func (m *Message) Frame(f *Format) []byte {
	slot := &m.frames[f.slot]
	if p := slot.Load(); p != nil {
		return *p
	}
	b := f.encode(m.Event)
	// Two writers may race to encode; both get the bytes that were kept.
	if slot.CompareAndSwap(nil, &b) {
		return b
	}
	return *slot.Load()
}

// fanout delivers ev to every matching subscription. It runs on Run's
// goroutine only, takes nothing but shard read locks and, past building
// the message, allocates nothing per delivery.
func (h *Hub) fanout(ev *journal.Event) {
	// Stored before ev visits the index; see Subscribe for why.
	h.current.Store(ev)
	defer h.stats.fannedOut.Add(1)
	if err := deliverable(ev); err != nil {
		h.stats.undeliverable.Add(1)
		h.log.Error("hub: skipping an event that cannot be framed", "id", ev.ID, "seq", ev.Seq, "err", err)
		return
	}
	msg := newMessage(ev)
	if msg.size <= recentEventBytes {
		h.recent[ev.Seq%recentMessages].Store(msg)
	}
	h.deliver(msg)
}

// deliver offers msg to every matching subscription.
func (h *Hub) deliver(msg *Message) {
	ev := msg.Event
	var delivered uint64
	for _, topic := range ev.Topics {
		sh := h.index.topicShard(topic)
		sh.mu.RLock()
		for _, s := range sh.topics[topic] {
			delivered += h.offer(s, msg)
		}
		sh.mu.RUnlock()
		h.flushNotify()
	}
	if h.index.templates.subscribed.Load() > 0 {
		h.index.templates.match(msg.key, ev.Topics, func(s *Subscription) {
			delivered += h.offer(s, msg)
		})
		h.flushNotify()
	}
	h.stats.delivered.Add(delivered)
	for i, s := range h.evict {
		h.index.remove(s)
		s.notifyReady()
		h.evict[i] = nil
	}
	h.evict = h.evict[:0]
}

// offer queues msg for s unless s already had it (several of its selectors
// may match) or it is private and s holds no matching grant. It reports
// the number of messages queued, 0 or 1.
func (h *Hub) offer(s *Subscription, msg *Message) uint64 {
	ev := msg.Event
	// One message is offered to a subscription before the next, so
	// remembering the last one dedupes without a set.
	if s.lastOffered == msg.key {
		return 0
	}
	s.lastOffered = msg.key
	if !visible(ev, s.grants) {
		return 0
	}
	switch s.enqueue(msg, h.queueBytes) {
	case queued:
		return 1
	case queuedFirst:
		if s.waker.Load() != nil {
			h.notify = append(h.notify, s)
		}
		return 1
	case cut:
		h.stats.slowConsumers.Add(1)
		h.evict = append(h.evict, s)
	}
	return 0
}

// flushNotify runs the wakers collected under a shard lock, so
// that a waker may do anything, Close included.
func (h *Hub) flushNotify() {
	for i, s := range h.notify {
		s.notifyReady()
		h.notify[i] = nil
	}
	h.notify = h.notify[:0]
}

// Stats is a snapshot of a hub's counters.
type Stats struct {
	// Subscribers is the number of subscriptions currently registered.
	Subscribers int64
	// Published counts the events appended through [Hub.Publish].
	Published uint64
	// FannedOut counts the events received from the journal and fanned out,
	// whichever node published them.
	FannedOut uint64
	// Delivered counts the messages queued to subscribers live.
	Delivered uint64
	// Replayed counts the messages handed to [Subscription.Replay]
	// callbacks.
	Replayed uint64
	// ReplayLags counts the journal re-reads forced by a live queue that
	// overflowed during a replay.
	ReplayLags uint64
	// SlowConsumerDisconnects counts subscriptions ended with
	// [ErrSlowConsumer].
	SlowConsumerDisconnects uint64
	// Undeliverable counts journaled events that could not be framed and
	// were skipped.
	Undeliverable uint64
	// Announced counts the announcements fanned out ([Hub.Announce]);
	// AnnouncementsDropped those dropped because too many waited.
	Announced            uint64
	AnnouncementsDropped uint64
}

type counters struct {
	published     atomic.Uint64
	fannedOut     atomic.Uint64
	delivered     atomic.Uint64
	replayed      atomic.Uint64
	replayLags    atomic.Uint64
	slowConsumers atomic.Uint64
	undeliverable atomic.Uint64

	announcedOut         atomic.Uint64
	announcementsDropped atomic.Uint64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Subscribers:             h.index.count.Load(),
		Published:               h.stats.published.Load(),
		FannedOut:               h.stats.fannedOut.Load(),
		Delivered:               h.stats.delivered.Load(),
		Replayed:                h.stats.replayed.Load(),
		ReplayLags:              h.stats.replayLags.Load(),
		SlowConsumerDisconnects: h.stats.slowConsumers.Load(),
		Undeliverable:           h.stats.undeliverable.Load(),
		Announced:               h.stats.announcedOut.Load(),
		AnnouncementsDropped:    h.stats.announcementsDropped.Load(),
	}
}

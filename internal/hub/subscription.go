package hub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
)

// Earliest as a Last-Event-ID asks for every retained event (Mercure's
// reserved value).
const Earliest = "earliest"

// SubscribeRequest describes a subscription.
type SubscribeRequest struct {
	// Selectors say what the subscriber asked for: an event is delivered
	// when one of them matches one of its topics. At least one is needed.
	Selectors selector.Set
	// Grants are what the subscriber may receive privately: a private event
	// is delivered only when one of its topics matches one of them. Nil
	// means public events only.
	Grants selector.Set
	// LastEventID resumes after that event: "" subscribes to live events
	// only, [Earliest] replays every retained event, and an ID the journal
	// no longer knows replays from the oldest retained event (see
	// [Subscription.Resumed]).
	LastEventID string
	// Positioned starts the subscription right after journal position
	// After instead, as if resuming from the event there: a snapshot of
	// the state at position N followed by exactly the events after N. A
	// position older than retention replays from the oldest retained
	// event. LastEventID must then be empty.
	Positioned bool
	After      uint64
	// Payload describes the subscriber to the subscriptions API (Mercure);
	// the hub does not interpret it.
	Payload json.RawMessage
	// Unlisted leaves the subscription out of [Hub.Subscriptions]: a
	// long poll's subscription lasts one request, and the server lists
	// the poller instead, once.
	Unlisted bool
}

// Subscription is one subscriber's registration: a bounded queue of the
// messages it is due. It has no goroutine of its own; its owner drains it.
// Its methods are safe for concurrent use.
type Subscription struct {
	hub       *Hub
	serial    uint64 // names it; see ID
	selectors selector.Set
	grants    selector.Set
	// waker is set by SetWaker, possibly while the fan-out runs.
	waker atomic.Value // of Waker
	// rare is what few subscriptions need, nil for the others; it is set
	// before the subscription is indexed and then read only, but for
	// rare.templates, which is the index's bookkeeping (below).
	rare *rareFields

	// Index bookkeeping; see index.add. Positions are guarded by the locks
	// of the shards they point into, indexed by indexMu.
	indexMu  sync.Mutex
	indexed  bool
	unlisted bool
	resumed  bool
	exact    []topicEntry

	// lastOffered is the key of the last message the fan-out considered
	// for this subscription; only the fan-out goroutine touches it.
	lastOffered uint64

	head        *journal.Event // the hub's current event at registration
	resumeAfter uint64

	// done and ready are made by the first Done and Ready: a subscription
	// whose owner is woken through its Waker needs neither, and an idle
	// one should hold no more than it uses. s.mu guards them.
	done  chan struct{}
	ready chan struct{}

	mu            sync.Mutex
	replaying     bool // between Subscribe and the end of Replay, for resumes
	replayStarted bool
	lagged        bool // the queue overflowed since the current journal read began
	ended         bool
	queue         []*Message
	queued        int    // bytes of the frames in queue
	floor         uint64 // events with Seq <= floor are not due (replayed, or the client's); the queue holds none
	err           error
}

// rareFields are a subscription's fields that most subscriptions leave
// empty: an idle subscriber of one topic holds 240 bytes instead of 352.
type rareFields struct {
	payload json.RawMessage
	// wild are the selectors that are not exact topics, and templates
	// where the subscription sits in the template index (guarded by the
	// index's lock, like the positions in exact).
	wild      []*selector.Selector
	templates []templateRef
}

// keepCap is the largest queue array Drain keeps for reuse. Keeping a small
// one spares a busy subscriber an allocation per event; anything larger is
// released so that an idle subscriber holds no more than this.
const keepCap = 16

// Subscribe registers a subscription. A subscription with a LastEventID
// must call [Subscription.Replay] before draining. The error is
// [ErrNoSelectors], [ErrHubClosed] or the journal's, when looking up
// LastEventID failed.
func (h *Hub) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if len(req.Selectors) == 0 {
		return nil, ErrNoSelectors
	}
	if req.Positioned && req.LastEventID != "" {
		return nil, errors.New("hub: a subscription starts after an event ID or a position, not both")
	}
	if h.closed.Load() {
		return nil, ErrHubClosed
	}
	s := &Subscription{
		hub:       h,
		serial:    h.ids.take(),
		unlisted:  req.Unlisted,
		selectors: req.Selectors,
		grants:    req.Grants,
	}
	if req.Payload != nil {
		s.rare = &rareFields{payload: req.Payload}
	}
	for _, sel := range req.Selectors {
		topic, ok := sel.Exact()
		switch {
		case !ok:
			if s.rare == nil {
				s.rare = &rareFields{}
			}
			if !slices.ContainsFunc(s.rare.wild, func(w *selector.Selector) bool { return w.String() == sel.String() }) {
				s.rare.wild = append(s.rare.wild, sel)
			}
		case s.entry(topic) == nil:
			s.exact = append(s.exact, topicEntry{topic: topic})
		}
	}
	switch {
	case req.LastEventID != "":
		after, found, err := h.position(ctx, req.LastEventID)
		if err != nil {
			return nil, err
		}
		s.replaying, s.resumeAfter, s.resumed = true, after, found
	case req.Positioned:
		// A position the journal no longer retains replays from the
		// oldest retained event, as Read does by itself.
		s.replaying, s.resumeAfter, s.resumed = true, req.After, true
	}

	h.index.add(s)
	// The fan-out stores an event in current before that event visits the
	// index. Loaded after registration, head is therefore the newest event
	// that may have missed s: any later event was stored after this load,
	// so it visits the index after s joined it and is queued. The head
	// event itself may or may not be queued, so the queue keeps only
	// Seq > head, and HeadID names a position after which s sees
	// everything.
	s.head = h.current.Load()
	s.mu.Lock()
	if s.head != nil {
		s.floor = s.head.Seq
	}
	// Events up to resumeAfter are the client's already.
	s.floor = max(s.floor, s.resumeAfter)
	// What the fan-out queued before floor was set; enqueue refuses the
	// rest, so the queue never holds an event at or below floor.
	s.dropUpToFloor()
	s.mu.Unlock()

	// Run's shutdown stores closed before sweeping the index: either the
	// sweep found s, or this load sees closed.
	if h.closed.Load() {
		h.end(s, ErrHubClosed)
		return nil, ErrHubClosed
	}
	return s, nil
}

// position resolves a Last-Event-ID to the journal position to replay
// after, and whether the ID was found.
func (h *Hub) position(ctx context.Context, id string) (after uint64, found bool, err error) {
	if id == Earliest {
		return 0, true, nil
	}
	seq, err := h.journal.Lookup(ctx, id)
	switch {
	case errors.Is(err, journal.ErrUnknownID):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return seq, true, nil
}

// entry returns s's index entry for an exact topic, or nil.
func (s *Subscription) entry(topic string) *topicEntry {
	for i := range s.exact {
		if s.exact[i].topic == topic {
			return &s.exact[i]
		}
	}
	return nil
}

// ID identifies the subscription: "urn:uuid:" and a UUID that looks
// random (see subscriberIDs). It is made at each call.
func (s *Subscription) ID() string { return s.hub.ids.id(s.serial) }

// LogValue logs s as its ID, made only when the record is written.
func (s *Subscription) LogValue() slog.Value { return slog.StringValue(s.ID()) }

// Unlisted reports whether [Hub.Subscriptions] leaves the subscription
// out (see [SubscribeRequest.Unlisted]).
func (s *Subscription) Unlisted() bool { return s.unlisted }

// Selectors are what the subscription asked for, as given to Subscribe.
func (s *Subscription) Selectors() selector.Set { return s.selectors }

// Payload is the subscriber's description for the subscriptions API, as
// given to Subscribe.
func (s *Subscription) Payload() json.RawMessage {
	if s.rare == nil {
		return nil
	}
	return s.rare.payload
}

// Resumed reports whether LastEventID was found in the journal, so that
// replay starts right after it; it is true for [Earliest] too. It is false
// for a live-only subscription and for an unknown or expired ID, which
// replays from the oldest retained event (Mercure then answers
// "earliest").
func (s *Subscription) Resumed() bool { return s.resumed }

// HeadID names the newest event the hub had fanned out when the
// subscription was registered, or is "" when there was none (or the hub
// was not yet following the journal). The subscription receives every
// matching event after it, so a client that reconnects with HeadID as its
// Last-Event-ID misses nothing; it is the Mercure Last-Event-ID response
// header.
//
// HeadID never shows the subscriber what it may not see, and is always
// safe in an HTTP header: when the head event is private and not granted
// to the subscriber, or its ID holds a control character (which a
// journal written before today's rules may have), HeadID is the
// journal's generated ID of that position instead, which resolves to the
// same place.
func (s *Subscription) HeadID() string {
	ev := s.head
	if ev == nil || ev.Seq == 0 {
		return ""
	}
	if ev.ID != "" && visible(ev, s.grants) && headerSafe(ev.ID) {
		return ev.ID
	}
	return journal.FormatID(s.hub.journal.Epoch(), ev.Seq)
}

// headerSafe reports whether id can be an HTTP header value as it is: no
// control character but tab (RFC 9110 section 5.5).
func headerSafe(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// SubscriptionInfo describes one subscription.
type SubscriptionInfo struct {
	ID        string
	Selectors []string // as requested
	Payload   json.RawMessage
}

// Subscriptions returns the registered subscriptions but the unlisted
// ones, ordered by ID.
func (h *Hub) Subscriptions() []SubscriptionInfo {
	subs := h.index.all()
	out := make([]SubscriptionInfo, 0, len(subs))
	for _, s := range subs {
		if s.unlisted {
			continue
		}
		out = append(out, SubscriptionInfo{ID: s.ID(), Selectors: s.selectors.Strings(), Payload: s.Payload()})
	}
	slices.SortFunc(out, func(a, b SubscriptionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// SubscriptionFilter selects subscriptions as the subscriptions API
// lists them: those of one selector, those of one subscriber, or both;
// the zero value selects every one.
type SubscriptionFilter struct {
	// Selector, when set, selects the subscriptions that asked for it,
	// written exactly so.
	Selector string
	// Subscriber, when set, selects the subscription of that ID.
	Subscriber string
}

// Apply returns the subscriptions of subs that f selects, in their order;
// with a Selector, each keeps that one selector only.
func (f SubscriptionFilter) Apply(subs []SubscriptionInfo) []SubscriptionInfo {
	if f == (SubscriptionFilter{}) {
		return subs
	}
	var out []SubscriptionInfo
	for _, info := range subs {
		if f.Subscriber != "" && info.ID != f.Subscriber {
			continue
		}
		if f.Selector != "" {
			if !slices.Contains(info.Selectors, f.Selector) {
				continue
			}
			info.Selectors = []string{f.Selector}
		}
		out = append(out, info)
	}
	return out
}

// Ready is signalled when messages are waiting: after the queue went from
// empty to non-empty, or when a replay ended with messages queued. A signal
// may be stale (Drain then returns nothing); the end of the subscription
// is signalled by Done, not Ready.
func (s *Subscription) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = make(chan struct{}, 1)
		if len(s.queue) > 0 && !s.replaying {
			s.ready <- struct{}{}
		}
	}
	return s.ready
}

// signalReady signals Ready, if anyone asked for it. s.mu is held.
func (s *Subscription) signalReady() {
	select {
	case s.ready <- struct{}{}: // a nil channel is never ready
	default:
	}
}

// Done is closed when the subscription ends: cut as a slow consumer, hub
// shut down, failed replay or Close. Err says which.
func (s *Subscription) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.ended {
			close(s.done)
		}
	}
	return s.done
}

// Ended reports whether the subscription ended: whether Done is closed.
func (s *Subscription) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// closeDone closes Done, if anyone asked for it. s.mu is held.
func (s *Subscription) closeDone() {
	if s.done != nil {
		close(s.done)
	}
}

// Err reports why the subscription ended: [ErrSlowConsumer],
// [ErrHubClosed], the error that stopped [Subscription.Replay], or nil
// while it runs and after Close.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Drain appends every queued message to dst, in order, and empties the
// queue. For a resuming subscription it returns nothing until Replay has
// finished. After the hub shut down, Drain still returns what was queued
// before, so that a writer may flush it.
func (s *Subscription) Drain(dst []*Message) []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return dst
	}
	dst = append(dst, s.queue...)
	s.takeQueue()
	return dst
}

// DrainFrames is Drain for a writer: it appends the frames of every queued
// message, encoded in format f, to dst, and empties the queue. A message's
// frame is encoded by the first subscriber that drains it and shared by
// every other; the frames must not be modified.
func (s *Subscription) DrainFrames(f *Format, dst [][]byte) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return dst
	}
	for _, m := range s.queue {
		dst = append(dst, m.Frame(f))
	}
	s.takeQueue()
	return dst
}

// DrainEach is Drain for a writer that frames each message itself: it
// calls fn with every queued message, in order, and empties the queue,
// without allocating. fn runs with the subscription locked: it must not
// call the subscription's methods.
func (s *Subscription) DrainEach(fn func(*Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return
	}
	for _, m := range s.queue {
		fn(m)
	}
	s.takeQueue()
}

// takeQueue empties the queue once its messages were taken. A ready
// signal left over from them would only cause a wake-up for nothing.
// s.mu is held.
func (s *Subscription) takeQueue() {
	s.resetQueue()
	if s.ready != nil {
		select {
		case <-s.ready:
		default:
		}
	}
}

// resetQueue empties the queue, keeping a small array for reuse.
func (s *Subscription) resetQueue() {
	if cap(s.queue) > keepCap {
		s.queue = nil
	} else {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	s.queued = 0
}

// Close ends the subscription and unregisters it. It is idempotent.
func (s *Subscription) Close() {
	s.mu.Lock()
	first := !s.ended
	if first {
		s.ended = true
		s.closeDone()
	}
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	s.hub.index.remove(s)
	if first {
		s.notifyReady()
	}
}

// end ends the subscription with err, keeping its queue for a last Drain;
// it reports whether this call ended it. The caller unregisters it.
func (s *Subscription) end(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.endLocked(err)
	return true
}

func (s *Subscription) endLocked(err error) {
	s.ended = true
	s.err = err
	if s.replaying {
		// Nothing queued during a replay can be drained any more.
		s.queue, s.queued = nil, 0
	}
	s.closeDone()
}

// Waker is told that a subscription has messages waiting or has ended:
// its owner's writer.
type Waker interface{ Wake() }

// SetWaker makes w the subscription's waker: w.Wake is called when the
// queue goes from empty to non-empty, when a replay ends with messages
// queued, and when the subscription ends. It runs on the hub's fan-out
// goroutine (or on the goroutine calling Replay or Close) without any lock
// held, so it may call any method of the subscription, but it must not
// block: the fan-out to every other subscriber waits for it. Set it once;
// a waker costs no allocation, where a callback closure would on every
// subscription.
//
// A signal that came before SetWaker is not repeated: after setting it,
// the owner drains the queue (or schedules a drain) once. Without a waker,
// wait on [Subscription.Ready] and [Subscription.Done].
func (s *Subscription) SetWaker(w Waker) { s.waker.Store(w) }

func (s *Subscription) notifyReady() {
	if w, ok := s.waker.Load().(Waker); ok {
		w.Wake()
	}
}

// enqueueResult tells the fan-out what enqueue did.
type enqueueResult int

const (
	ignored     enqueueResult = iota // ended, or the event is not due
	queued                           // queued behind other messages, or during replay
	queuedFirst                      // queued into an empty queue: the owner needs a signal
	cut                              // the queue overflowed: the subscription ended
)

// enqueue adds m to the queue, bounded by limit bytes.
func (s *Subscription) enqueue(m *Message, limit int) enqueueResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Past floor only: a replay may have read ahead of the fan-out, and
	// what it handed out must not fill the queue again.
	if s.ended || m.Event.Seq <= s.floor && !m.announced() {
		return ignored
	}
	if len(s.queue) > 0 && s.queued+m.size > limit {
		if !s.replaying {
			s.queue, s.queued = nil, 0
			s.endLocked(ErrSlowConsumer)
			return cut
		}
		// Everything dropped here is in the journal; Replay reads it again
		// (see Replay).
		s.lagged = true
		s.queue, s.queued = nil, 0
	}
	s.queue = append(s.queue, m)
	s.queued += m.size
	if s.replaying || len(s.queue) > 1 {
		// While replaying, the owner is busy in Replay, which signals at
		// its end.
		return queued
	}
	s.signalReady()
	return queuedFirst
}

package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestMatching(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	type sub struct {
		name      string
		selectors []string
		grants    []string
		want      []int // indexes into events
	}
	subs := []sub{
		{name: "exact", selectors: []string{"a"}, want: []int{0}},
		{name: "all", selectors: []string{"*"}, want: []int{0, 1, 2}},
		{name: "template", selectors: []string{"books/{id}"}, want: []int{1}},
		{name: "alternate", selectors: []string{"alt"}, want: []int{1}},
		{name: "several match once", selectors: []string{"a", "books/{id}", "*", "alt", "a"}, want: []int{0, 1, 2}},
		{name: "private granted", selectors: []string{"*"}, grants: []string{"a"}, want: []int{0, 1, 2, 3, 4}},
		{name: "private without grants", selectors: []string{"a"}, want: []int{0}},
		{name: "private other grant", selectors: []string{"a"}, grants: []string{"b"}, want: []int{0}},
		{name: "private template grant", selectors: []string{"books/{id}"}, grants: []string{"books/{id}"}, want: []int{1, 4}},
		{name: "nothing", selectors: []string{"zzz", "x/{y}"}, want: nil},
	}
	events := []*journal.Event{
		event("a"),
		event("books/1", "alt"),
		event("c"),
		{Topics: []string{"a"}, Private: true, Data: []byte("private a")},
		{Topics: []string{"books/2", "a"}, Private: true, Data: []byte("private books/2")},
	}

	live := make([]*hub.Subscription, len(subs))
	for i, sb := range subs {
		req := hub.SubscribeRequest{Selectors: sels(t, sb.selectors...)}
		if sb.grants != nil {
			req.Grants = sels(t, sb.grants...)
		}
		live[i] = subscribe(t, h, req)
	}
	for _, ev := range events {
		publish(t, h, ev)
	}
	waitFannedOut(t, h, uint64(len(events)))

	for i, sb := range subs {
		var want []uint64
		for _, k := range sb.want {
			want = append(want, events[k].Seq)
		}
		t.Run(sb.name, func(t *testing.T) {
			if got := seqs(live[i].Drain(nil)); !slices.Equal(got, want) {
				t.Errorf("live: got seqs %v, want %v", got, want)
			}
			// Replay filters the same way, private events included.
			req := hub.SubscribeRequest{Selectors: sels(t, sb.selectors...), LastEventID: hub.Earliest}
			if sb.grants != nil {
				req.Grants = sels(t, sb.grants...)
			}
			var replayed []*hub.Message
			s := subscribe(t, h, req)
			err := s.Replay(context.Background(), func(m *hub.Message) error {
				replayed = append(replayed, m)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(replayed); !slices.Equal(got, want) {
				t.Errorf("replay: got seqs %v, want %v", got, want)
			}
		})
	}
}

func TestFrameIsEncodedOnceAndShared(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	a := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "news")})
	b := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "*")})
	ev := publish(t, h, &journal.Event{ID: "n-1", Type: "headline", Topics: []string{"news"}, Data: []byte("line 1\nline 2"), Retry: 1500 * time.Millisecond})
	waitFannedOut(t, h, 1)
	ma, mb := a.Drain(nil), b.Drain(nil)
	if len(ma) != 1 || len(mb) != 1 {
		t.Fatalf("got %d and %d messages, want 1 each", len(ma), len(mb))
	}
	if ma[0] != mb[0] {
		t.Error("subscribers got different Message values for one event")
	}
	want := "id: n-1\nevent: headline\nretry: 1500\ndata: line 1\ndata: line 2\n\n"
	if got := string(ma[0].Frame(sseFrames)); got != want {
		t.Errorf("frame = %q, want %q", got, want)
	}
	// Encoded once: every subscriber shares the bytes.
	if fa, fb := ma[0].Frame(sseFrames), mb[0].Frame(sseFrames); &fa[0] != &fb[0] {
		t.Error("the frame was encoded twice")
	}
	if ma[0].Event.Seq != ev.Seq || ma[0].Event.ID != "n-1" {
		t.Errorf("event = %+v, want seq %d id n-1", ma[0].Event, ev.Seq)
	}
}

func TestOrderingWithConcurrentPublishers(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t/{n}")})
	const publishers, each = 4, 250
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for range each {
				publish(t, h, event(fmt.Sprintf("t/%d", p), "other"))
			}
		})
	}
	// Drain while publishing, as a writer would.
	var got []*hub.Message
	got = receiveUntil(t, s, got, publishers*each)
	wg.Wait()
	want := journalSeqs(t, j, 0, func(*journal.Event) bool { return true })
	if d := diffSeqs(seqs(got), want); d != "" {
		t.Fatal(d)
	}
}

func TestSlowConsumerIsCutOthersUnaffected(t *testing.T) {
	const frameSize = 100
	h, _ := startHub(t, hub.Config{QueueBytes: 10 * frameSize})
	var slowCalls atomic.Int32
	slow := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	slow.SetWaker(wakeFunc(func() { slowCalls.Add(1) }))
	fast := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})

	// One goroutine publishes and reads the fast subscriber in turn: the
	// publisher is never held up by the slow one, which reads nothing.
	const n = 200
	var got []*hub.Message
	for range n {
		ev := publish(t, h, &journal.Event{Topics: []string{"t"}, Data: bytes.Repeat([]byte("x"), frameSize)})
		got = receiveUntil(t, fast, got, ev.Seq)
	}
	if len(got) != n {
		t.Errorf("fast subscriber got %d events, want %d", len(got), n)
	}
	waitDone(t, slow, hub.ErrSlowConsumer)
	if isDone(fast) {
		t.Errorf("fast subscriber ended: %v", fast.Err())
	}
	if msgs := slow.Drain(nil); len(msgs) != 0 {
		t.Errorf("a cut subscription still drains %d messages", len(msgs))
	}
	// The waker: once when the first event was queued, once at the cut.
	if got := slowCalls.Load(); got != 2 {
		t.Errorf("waker called %d times, want 2", got)
	}
	st := h.Stats()
	if st.SlowConsumerDisconnects != 1 {
		t.Errorf("SlowConsumerDisconnects = %d, want 1", st.SlowConsumerDisconnects)
	}
	testutil.CheckFor(t, testutil.WaitTimeout, time.Millisecond, func() error {
		if got := h.Stats().Subscribers; got != 1 {
			return fmt.Errorf("Subscribers = %d, want 1 once the slow one is evicted", got)
		}
		return nil
	})
}

func TestLargeFrameFitsEmptyQueue(t *testing.T) {
	h, _ := startHub(t, hub.Config{QueueBytes: 10})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	ev := publish(t, h, &journal.Event{Topics: []string{"t"}, Data: bytes.Repeat([]byte("x"), 100)})
	got := receiveUntil(t, s, nil, ev.Seq)
	if len(got) != 1 || isDone(s) {
		t.Fatalf("got %d messages, ended %v (%v); want the one large event", len(got), isDone(s), s.Err())
	}
}

func TestCloseUnsubscribes(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	var readyCalls atomic.Int32
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t", "*")})
	s.SetWaker(wakeFunc(func() { readyCalls.Add(1) }))
	keep := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	if got := h.Stats().Subscribers; got != 2 {
		t.Fatalf("Subscribers = %d, want 2", got)
	}
	s.Close()
	s.Close()
	waitDone(t, s, nil)
	if got := readyCalls.Load(); got != 1 {
		t.Errorf("waker called %d times by Close, want 1", got)
	}
	if got := h.Stats().Subscribers; got != 1 {
		t.Errorf("Subscribers after Close = %d, want 1", got)
	}
	ev := publish(t, h, event("t"))
	receiveUntil(t, keep, nil, ev.Seq)
	if msgs := s.Drain(nil); len(msgs) != 0 {
		t.Errorf("closed subscription got %d messages", len(msgs))
	}
	for _, info := range h.Subscriptions() {
		if info.ID == s.ID() {
			t.Error("closed subscription still listed")
		}
	}
}

func TestCloseFromWaker(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	s.SetWaker(wakeFunc(s.Close)) // on the fan-out goroutine: must not deadlock
	publish(t, h, event("t"))
	waitDone(t, s, nil)
	// The hub still delivers afterwards.
	other := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	ev := publish(t, h, event("t"))
	receiveUntil(t, other, nil, ev.Seq)
}

// TestIndexRemoval closes subscriptions in an arbitrary order and checks
// that exactly the others still receive: removal moves entries around.
func TestIndexRemoval(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	selectorSets := [][]string{{"t"}, {"t", "u"}, {"u"}, {"*"}, {"t", "x/{y}"}, {"x/{y}"}}
	type entry struct {
		s    *hub.Subscription
		sels []string
	}
	var all []entry
	for i := range 300 {
		ss := selectorSets[i%len(selectorSets)]
		all = append(all, entry{subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, ss...)}), ss})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, k int) { all[i], all[k] = all[k], all[i] })
	closed, open := all[:180], all[180:]
	for _, e := range closed {
		e.s.Close()
	}
	if got := h.Stats().Subscribers; got != int64(len(open)) {
		t.Fatalf("Subscribers = %d, want %d", got, len(open))
	}
	evs := []*journal.Event{event("t"), event("u"), event("x/1"), event("v")}
	for _, ev := range evs {
		publish(t, h, ev)
	}
	waitFannedOut(t, h, uint64(len(evs)))
	for _, e := range all {
		var want []uint64
		if !isDone(e.s) {
			set := sels(t, e.sels...)
			for _, ev := range evs {
				if set.MatchAny(ev.Topics) {
					want = append(want, ev.Seq)
				}
			}
		}
		if got := seqs(e.s.Drain(nil)); !slices.Equal(got, want) {
			t.Errorf("%v (closed %v): got %v, want %v", e.sels, isDone(e.s), got, want)
		}
	}
}

// TestConcurrentSubscribeClose churns subscriptions from many goroutines
// while events flow; subscriptions that stay get everything.
func TestConcurrentSubscribeClose(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	steady := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t/{n}")})
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for g := range 8 {
		set := sels(t, fmt.Sprintf("t/%d", g%3), "t/{n}")
		if g%2 == 0 {
			set = sels(t, fmt.Sprintf("t/%d", g%3))
		}
		churn.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: set})
				if err != nil {
					t.Error(err)
					return
				}
				s.Drain(nil)
				s.Close()
			}
		})
	}
	const n = 300
	for i := range n {
		publish(t, h, event(fmt.Sprintf("t/%d", i%3)))
	}
	got := receiveUntil(t, steady, nil, n)
	close(stop)
	churn.Wait()
	if d := diffSeqs(seqs(got), journalSeqs(t, j, 0, func(*journal.Event) bool { return true })); d != "" {
		t.Errorf("steady subscriber: %s", d)
	}
	if got := h.Stats().Subscribers; got != 1 {
		t.Errorf("Subscribers = %d after churn, want 1", got)
	}
	if got := len(h.Subscriptions()); got != 1 {
		t.Errorf("Subscriptions() lists %d, want 1", got)
	}
}

func TestSubscriptionsSnapshot(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	a := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a", "books/{id}"), Payload: []byte(`{"role":"admin"}`)})
	b := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "*")})
	c := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a")})
	c.Close()
	subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a"), Unlisted: true})

	got := h.Subscriptions()
	if len(got) != 2 {
		t.Fatalf("got %d subscriptions, want 2: %+v", len(got), got)
	}
	if got[0].ID > got[1].ID {
		t.Error("subscriptions not ordered by ID")
	}
	byID := map[string]hub.SubscriptionInfo{got[0].ID: got[0], got[1].ID: got[1]}
	ia, ib := byID[a.ID()], byID[b.ID()]
	if !slices.Equal(ia.Selectors, []string{"a", "books/{id}"}) || string(ia.Payload) != `{"role":"admin"}` {
		t.Errorf("alice's info = %+v", ia)
	}
	if !slices.Equal(ib.Selectors, []string{"*"}) || ib.Payload != nil {
		t.Errorf("anonymous info = %+v", ib)
	}
	uuid := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, s := range []*hub.Subscription{a, b, c} {
		if !uuid.MatchString(s.ID()) {
			t.Errorf("ID %q is not a urn:uuid v4", s.ID())
		}
	}
	if a.ID() == b.ID() || b.ID() == c.ID() {
		t.Error("IDs repeat")
	}
	if first := a.ID(); a.ID() != first {
		t.Error("an ID changes from call to call")
	}
	// IDs are made from a hub's serial numbers with a key of its own: the
	// first subscription of another hub is named otherwise.
	h2, _ := startHub(t, hub.Config{})
	if other := subscribe(t, h2, hub.SubscribeRequest{Selectors: sels(t, "a")}); other.ID() == a.ID() {
		t.Error("two hubs name their first subscriptions alike")
	}
}

func TestSubscriptionFilter(t *testing.T) {
	subs := []hub.SubscriptionInfo{
		{ID: "urn:a", Selectors: []string{"books", "books/{id}"}, Payload: []byte(`{"n":1}`)},
		{ID: "urn:b", Selectors: []string{"books/{id}"}},
		{ID: "urn:c", Selectors: []string{"news"}},
	}
	for _, tc := range []struct {
		name   string
		filter hub.SubscriptionFilter
		want   []hub.SubscriptionInfo
	}{
		{"all", hub.SubscriptionFilter{}, subs},
		{"one selector, each with that one only", hub.SubscriptionFilter{Selector: "books/{id}"}, []hub.SubscriptionInfo{
			{ID: "urn:a", Selectors: []string{"books/{id}"}, Payload: []byte(`{"n":1}`)},
			{ID: "urn:b", Selectors: []string{"books/{id}"}},
		}},
		{"a selector matched as text, not as a template", hub.SubscriptionFilter{Selector: "books/1"}, nil},
		{"one subscriber", hub.SubscriptionFilter{Subscriber: "urn:c"}, subs[2:]},
		{"one subscription", hub.SubscriptionFilter{Selector: "books", Subscriber: "urn:a"}, []hub.SubscriptionInfo{
			{ID: "urn:a", Selectors: []string{"books"}, Payload: []byte(`{"n":1}`)},
		}},
		{"a subscriber without that selector", hub.SubscriptionFilter{Selector: "news", Subscriber: "urn:a"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.filter.Apply(subs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if !slices.Equal(subs[0].Selectors, []string{"books", "books/{id}"}) {
		t.Errorf("Apply changed its input: %+v", subs[0])
	}
}

func TestStats(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	a := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a")})
	b := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a", "*")})
	publish(t, h, event("a"))
	publish(t, h, event("b"))
	last := publish(t, h, event("a"))
	waitFannedOut(t, h, 3)
	r := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a"), LastEventID: hub.Earliest})
	if err := r.Replay(context.Background(), func(*hub.Message) error { return nil }); err != nil {
		t.Fatal(err)
	}
	receiveUntil(t, a, nil, last.Seq)
	receiveUntil(t, b, nil, last.Seq)
	want := hub.Stats{Subscribers: 3, Published: 3, FannedOut: 3, Delivered: 2 + 3, Replayed: 2}
	if got := h.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestPublishValidates(t *testing.T) {
	h, j := startHub(t, hub.Config{Limits: journal.Limits{MaxTopics: 2}})
	for name, c := range map[string]struct {
		ev   *journal.Event
		rule error
	}{
		"nil":            {nil, journal.ErrInvalidEvent},
		"no topic":       {&journal.Event{Data: []byte("x")}, journal.ErrNoTopic},
		"empty topic":    {&journal.Event{Topics: []string{"a", ""}}, journal.ErrEmptyTopic},
		"too many":       {&journal.Event{Topics: []string{"a", "b", "c"}}, journal.ErrTooManyTopics},
		"id with LF":     {&journal.Event{Topics: []string{"a"}, ID: "x\nevent: forged"}, journal.ErrInvalidID},
		"id with ESC":    {&journal.Event{Topics: []string{"a"}, ID: "x\x1b[2J"}, journal.ErrInvalidID},
		"type with CR":   {&journal.Event{Topics: []string{"a"}, Type: "t\r"}, journal.ErrInvalidType},
		"generated id":   {&journal.Event{Topics: []string{"a"}, ID: "urn:herald:x:1"}, journal.ErrReservedID},
		"earliest as id": {&journal.Event{Topics: []string{"a"}, ID: hub.Earliest}, journal.ErrReservedID},
		"retry over 24h": {&journal.Event{Topics: []string{"a"}, Retry: 25 * time.Hour}, journal.ErrRetryRange},
	} {
		if err := h.Publish(context.Background(), c.ev); !errors.Is(err, c.rule) {
			t.Errorf("%s: Publish = %v, want %v", name, err, c.rule)
		}
	}
	if last, _ := j.Last(context.Background()); last != 0 {
		t.Errorf("refused events reached the journal: head %d", last)
	}
	publish(t, h, &journal.Event{Topics: []string{"a"}, ID: "mine"})
	if err := h.Publish(context.Background(), &journal.Event{Topics: []string{"a"}, ID: "mine"}); !errors.Is(err, journal.ErrDuplicateID) {
		t.Errorf("journal errors pass through: got %v", err)
	}
}

func TestUnframeableEventIsSkipped(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	// Written behind the hub's back: Publish refuses such an event.
	bad := &journal.Event{Topics: []string{"t"}, Type: "a\nb"}
	if err := j.Append(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	good := publish(t, h, event("t"))
	got := receiveUntil(t, s, nil, good.Seq)
	if !slices.Equal(seqs(got), []uint64{good.Seq}) {
		t.Errorf("got %v, want only %d", seqs(got), good.Seq)
	}
	if n := h.Stats().Undeliverable; n != 1 {
		t.Errorf("Undeliverable = %d, want 1", n)
	}
}

func TestSubscribeErrors(t *testing.T) {
	j := newJournal(t)
	h := hub.New(j, hub.Config{Logger: quiet})
	if _, err := h.Subscribe(context.Background(), hub.SubscribeRequest{}); !errors.Is(err, hub.ErrNoSelectors) {
		t.Errorf("no selectors: %v, want ErrNoSelectors", err)
	}
	_ = j.Close()
	_, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: "some-id"})
	if !errors.Is(err, journal.ErrClosed) {
		t.Errorf("lookup on a closed journal: %v, want journal.ErrClosed", err)
	}
	if got := h.Stats().Subscribers; got != 0 {
		t.Errorf("a failed Subscribe left %d subscribers", got)
	}
}

func TestDrainReleasesLargeQueue(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	var last *journal.Event
	for range 4 * hub.KeepCap {
		last = publish(t, h, event("t"))
	}
	waitFannedOut(t, h, last.Seq)
	if got := len(s.Drain(nil)); got != 4*hub.KeepCap {
		t.Fatalf("drained %d, want %d", got, 4*hub.KeepCap)
	}
	if c := s.QueueCap(); c != 0 {
		t.Errorf("idle subscription keeps a queue array of %d", c)
	}
	// A small one is kept so that a busy subscriber does not allocate per event.
	last = publish(t, h, event("t"))
	receiveUntil(t, s, nil, last.Seq)
	if c := s.QueueCap(); c == 0 || c > hub.KeepCap {
		t.Errorf("queue array of %d after a small drain, want 1..%d", c, hub.KeepCap)
	}
}

func TestReadySignalsOncePerBatch(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	var calls atomic.Int32
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	s.SetWaker(wakeFunc(func() { calls.Add(1) }))
	for range 3 {
		publish(t, h, event("t"))
	}
	waitFannedOut(t, h, 3)
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not signalled")
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("waker called %d times for one batch, want 1", got)
	}
	if n := len(s.Drain(nil)); n != 3 {
		t.Errorf("drained %d, want 3", n)
	}
	publish(t, h, event("t"))
	waitFannedOut(t, h, 4)
	if got := calls.Load(); got != 2 {
		t.Errorf("waker called %d times after the next event, want 2", got)
	}
}

// DrainEach hands over the queued messages in order and empties the
// queue, without allocating.
func TestDrainEach(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	var last *journal.Event
	for range 3 {
		last = publish(t, h, event("t"))
	}
	waitFannedOut(t, h, 3)
	var seqs []uint64
	s.DrainEach(func(m *hub.Message) { seqs = append(seqs, m.Event.Seq) })
	if !slices.Equal(seqs, []uint64{last.Seq - 2, last.Seq - 1, last.Seq}) {
		t.Fatalf("drained %v", seqs)
	}
	if got := s.Drain(nil); len(got) != 0 {
		t.Fatalf("queue after DrainEach holds %d", len(got))
	}
	if n := testing.AllocsPerRun(100, func() { s.DrainEach(func(*hub.Message) {}) }); n != 0 {
		t.Errorf("DrainEach allocates %v times", n)
	}
}

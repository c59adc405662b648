package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
)

// A snapshot taken at position N, then a subscription after N: exactly the
// events after N, replayed then live, none twice.
func TestSubscribeAfterPosition(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	var snapshot uint64
	for i := range 6 {
		ev := publish(t, h, event("t"))
		if i == 2 {
			snapshot = ev.Seq
		}
	}
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), Positioned: true, After: snapshot})
	var got []*hub.Message
	if err := s.Replay(context.Background(), func(m *hub.Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	live := publish(t, h, event("t"))
	got = receiveUntil(t, s, got, live.Seq)
	if d := diffSeqs(seqs(got), journalSeqs(t, j, snapshot, onTopic("t"))); d != "" {
		t.Fatal(d)
	}
	if _, err := h.Subscribe(context.Background(), hub.SubscribeRequest{
		Selectors: sels(t, "t"), Positioned: true, LastEventID: hub.Earliest,
	}); err == nil {
		t.Error("Subscribe took both a position and a Last-Event-ID")
	}
}

// The waker may be set after Subscribe: later signals reach it.
func TestSetWakerAfterSubscribe(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	first := publish(t, h, event("t"))
	receiveUntil(t, s, nil, first.Seq)
	called := make(chan struct{}, 8)
	s.SetWaker(wakeFunc(func() { called <- struct{}{} }))
	ev := publish(t, h, event("t"))
	select {
	case <-called:
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the waker set after Subscribe was never called")
	}
	if msgs := s.Drain(nil); len(msgs) != 1 || msgs[0].Event.Seq != ev.Seq {
		t.Fatalf("after the callback, drained %v, want seq %d", seqs(msgs), ev.Seq)
	}
}

// HeadID never names an event the subscriber may not see, nor an ID that
// would break an HTTP header; it then names the same position in the
// journal's own ID form, and resuming from it loses and repeats nothing.
func TestHeadIDHidesWhatTheSubscriberMayNotSee(t *testing.T) {
	cases := map[string]struct {
		head    *journal.Event
		grants  []string
		visible bool
	}{
		"public":                  {&journal.Event{ID: "pub", Topics: []string{"t"}}, nil, true},
		"private, granted":        {&journal.Event{ID: "mine", Topics: []string{"t"}, Private: true}, []string{"t"}, true},
		"private, not granted":    {&journal.Event{ID: "secret", Topics: []string{"t"}, Private: true}, []string{"other"}, false},
		"control character in id": {&journal.Event{ID: "a\vb", Topics: []string{"t"}}, nil, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			j := newJournal(t)
			before := &journal.Event{Topics: []string{"t"}}
			// Appended to the journal directly: a journal written before
			// today's rules may hold an ID that Publish now refuses.
			for _, ev := range []*journal.Event{before, c.head} {
				if err := j.Append(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			h := hub.New(j, hub.Config{Logger: quiet})
			testutil.RunHub(t, h)
			req := hub.SubscribeRequest{Selectors: sels(t, "t")}
			if c.grants != nil {
				req.Grants = sels(t, c.grants...)
			}
			s := subscribe(t, h, req)
			id := s.HeadID()
			if got := id == c.head.ID; got != c.visible {
				t.Fatalf("HeadID = %q with head %q: shown %v, want %v", id, c.head.ID, got, c.visible)
			}
			seq, err := j.Lookup(context.Background(), id)
			if err != nil || seq != c.head.Seq {
				t.Fatalf("HeadID %q looks up to %d, %v; want %d", id, seq, err, c.head.Seq)
			}
			next := publish(t, h, event("t"))
			req.LastEventID = id
			resumed := subscribe(t, h, req)
			var got []*hub.Message
			if err := resumed.Replay(context.Background(), func(m *hub.Message) error {
				got = append(got, m)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got = receiveUntil(t, resumed, got, next.Seq)
			if d := diffSeqs(seqs(got), []uint64{next.Seq}); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// Subscribers of one selector share one entry of the template index; the
// last to leave takes it away, and the prefix tree shrinks back to its
// root.
func TestTemplateIndexSharesSelectors(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	var subs []*hub.Subscription
	for range 100 {
		subs = append(subs, subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "books/{id}", "*")}))
	}
	other := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "authors/{id}{?q}", "books/{id}")})
	if n, _ := h.Templates(); n != 3 {
		t.Fatalf("%d selectors indexed for 3 distinct ones", n)
	}
	ev := publish(t, h, event("books/1"))
	for _, s := range append(subs, other) {
		if got := receiveUntil(t, s, nil, ev.Seq); len(got) != 1 {
			t.Fatalf("a subscriber of two matching selectors got the event %d times", len(got))
		}
	}
	for _, s := range append(subs, other) {
		s.Close()
	}
	if n, nodes := h.Templates(); n != 0 || nodes != 1 {
		t.Fatalf("after every close: %d selectors, %d tree nodes", n, nodes)
	}
}

// wakeFunc is a Waker made of a function.
type wakeFunc func()

func (f wakeFunc) Wake() { f() }

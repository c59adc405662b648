package hub_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
)

// TestResumeGapless resumes while events are being published and checks
// that replay plus live delivery is exactly the journal's matching events
// after the position: no gap, no duplicate, in order.
func TestResumeGapless(t *testing.T) {
	type variant struct {
		name        string
		lastEventID func(pre []*journal.Event) string
		resumed     bool
		after       func(pre []*journal.Event) uint64
	}
	variants := []variant{
		{"generated ID", func(pre []*journal.Event) string { return pre[17].ID }, true, func(pre []*journal.Event) uint64 { return pre[17].Seq }},
		{"publisher ID", func(pre []*journal.Event) string { return pre[10].ID }, true, func(pre []*journal.Event) uint64 { return pre[10].Seq }},
		{"latest ID", func(pre []*journal.Event) string { return pre[len(pre)-1].ID }, true, func(pre []*journal.Event) uint64 { return pre[len(pre)-1].Seq }},
		{"earliest", func([]*journal.Event) string { return hub.Earliest }, true, func([]*journal.Event) uint64 { return 0 }},
		{"unknown ID", func([]*journal.Event) string { return "never-published" }, false, func([]*journal.Event) uint64 { return 0 }},
	}
	const iterations = 12
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for i := range iterations {
				h, j := startHub(t, hub.Config{})
				pre := make([]*journal.Event, 30)
				for k := range pre {
					ev := event([]string{"a", "b"}[k%2])
					if k%5 == 0 {
						ev.ID = fmt.Sprintf("pub-%d-%d", i, k)
					}
					pre[k] = publish(t, h, ev)
				}
				// Publishing goes on while the subscription registers and
				// replays; how the two interleave varies per iteration.
				var wg sync.WaitGroup
				wg.Go(func() {
					for k := range 100 {
						publish(t, h, event([]string{"a", "b", "c"}[k%3]))
					}
				})
				s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "a", "c"), LastEventID: v.lastEventID(pre)})
				if s.Resumed() != v.resumed {
					t.Errorf("Resumed() = %v, want %v", s.Resumed(), v.resumed)
				}
				var got []*hub.Message
				err := s.Replay(context.Background(), func(m *hub.Message) error {
					got = append(got, m)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				want := journalSeqs(t, j, v.after(pre), func(ev *journal.Event) bool {
					return slices.Contains(ev.Topics, "a") || slices.Contains(ev.Topics, "c")
				})
				got = receiveUntil(t, s, got, want[len(want)-1])
				if d := diffSeqs(seqs(got), want); d != "" {
					t.Fatalf("iteration %d: %s", i, d)
				}
			}
		})
	}
}

// TestLiveHeadIDGapless subscribes live-only from several goroutines while
// events flow to a crowd of other subscribers (which makes each fan-out
// long): each subscription gets exactly the events after its HeadID.
func TestLiveHeadIDGapless(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	set := sels(t, "t")
	for range 200 {
		subscribe(t, h, hub.SubscribeRequest{Selectors: set})
	}
	publish(t, h, event("t"))
	waitFannedOut(t, h, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 600 {
			publish(t, h, event("t"))
		}
	})
	var (
		mu   sync.Mutex
		subs []*hub.Subscription
	)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				s, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: set})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				subs = append(subs, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	all := journalSeqs(t, j, 0, onTopic("t"))
	last := all[len(all)-1]
	for _, s := range subs {
		t.Cleanup(s.Close)
		if s.HeadID() == "" {
			t.Fatal("HeadID empty although events were fanned out")
		}
		head, err := j.Lookup(context.Background(), s.HeadID())
		if err != nil {
			t.Fatal(err)
		}
		want := journalSeqs(t, j, head, onTopic("t"))
		var got []*hub.Message
		if len(want) > 0 {
			got = receiveUntil(t, s, nil, last)
		}
		if d := diffSeqs(seqs(got), want); d != "" {
			t.Fatalf("HeadID %s: %s", s.HeadID(), d)
		}
	}
}

// TestResumeAroundHead drives the fan-out by hand to place the resume
// position before and after the hub's head.
func TestResumeAroundHead(t *testing.T) {
	ctx := context.Background()
	j := newJournal(t)
	h := hub.New(j, hub.Config{Logger: quiet})
	var evs []*journal.Event
	for range 7 {
		evs = append(evs, publish(t, h, event("t")))
	}
	h.Fanout(evs[0])
	h.Fanout(evs[1])

	live := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	if got := live.HeadID(); got != evs[1].ID {
		t.Errorf("HeadID = %q, want %q", got, evs[1].ID)
	}
	// The client already holds event 4, which the hub has not fanned out.
	ahead := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: evs[3].ID})
	// Event 1 is behind the head.
	behind := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: evs[0].ID})
	for _, ev := range evs[2:6] {
		h.Fanout(ev)
	}
	replay := func(s *hub.Subscription) []uint64 {
		var got []*hub.Message
		if err := s.Replay(ctx, func(m *hub.Message) error { got = append(got, m); return nil }); err != nil {
			t.Fatal(err)
		}
		return seqs(got)
	}
	h.Fanout(evs[6])
	for _, tc := range []struct {
		name         string
		s            *hub.Subscription
		replay, live []uint64
	}{
		{"live", live, nil, []uint64{3, 4, 5, 6, 7}},
		{"ahead of head", ahead, []uint64{5, 6, 7}, nil},
		{"behind head", behind, []uint64{2, 3, 4, 5, 6, 7}, nil},
	} {
		if got := replay(tc.s); !slices.Equal(got, tc.replay) {
			t.Errorf("%s: replayed %v, want %v", tc.name, got, tc.replay)
		}
		if got := seqs(tc.s.Drain(nil)); !slices.Equal(got, tc.live) {
			t.Errorf("%s: drained %v, want %v", tc.name, got, tc.live)
		}
	}
	next := publish(t, h, event("t"))
	h.Fanout(next)
	for _, s := range []*hub.Subscription{live, ahead, behind} {
		if got := seqs(s.Drain(nil)); !slices.Equal(got, []uint64{next.Seq}) {
			t.Errorf("after replay: drained %v, want [%d]", got, next.Seq)
		}
	}
}

func TestResumeExpiredID(t *testing.T) {
	j := journal.NewMemory(journal.Retention{MaxEvents: 5})
	t.Cleanup(func() { _ = j.Close() })
	h := hub.New(j, hub.Config{Logger: quiet})
	var evs []*journal.Event
	for range 10 {
		evs = append(evs, publish(t, h, event("t")))
	}
	testutil.RunHub(t, h)
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: evs[1].ID})
	if s.Resumed() {
		t.Error("Resumed() = true for an ID past retention")
	}
	var got []*hub.Message
	if err := s.Replay(context.Background(), func(m *hub.Message) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{6, 7, 8, 9, 10}; !slices.Equal(seqs(got), want) {
		t.Errorf("replayed %v, want the retained %v", seqs(got), want)
	}
}

// lagJournal runs hook once, at the end of the first Read after it is
// armed, as if events arrived while that read was under way.
type lagJournal struct {
	journal.Journal
	hook atomic.Pointer[func()]
}

func (l *lagJournal) Read(ctx context.Context, after uint64, fn func(*journal.Event) error) error {
	err := l.Journal.Read(ctx, after, fn)
	if hook := l.hook.Swap(nil); hook != nil {
		(*hook)()
	}
	return err
}

// TestReplayLag overflows the live queue during a replay: the subscription
// is not cut, and the events dropped from its queue, which the first read
// did not include, come from a second read.
func TestReplayLag(t *testing.T) {
	j := &lagJournal{Journal: newJournal(t)}
	h := hub.New(j, hub.Config{QueueBytes: 1, Logger: quiet})
	var evs []*journal.Event
	for range 10 {
		evs = append(evs, publish(t, h, event("t")))
	}
	testutil.RunHub(t, h)
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: evs[2].ID})
	hook := func() {
		for range 5 {
			publish(t, h, event("t"))
		}
		waitFannedOut(t, h, 5)
	}
	j.hook.Store(&hook)

	var got []*hub.Message
	if err := s.Replay(context.Background(), func(m *hub.Message) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; !slices.Equal(seqs(got), want) {
		t.Errorf("replayed %v, want %v", seqs(got), want)
	}
	if isDone(s) {
		t.Fatalf("subscription ended during replay: %v", s.Err())
	}
	if n := h.Stats().ReplayLags; n != 1 {
		t.Errorf("ReplayLags = %d, want 1", n)
	}
	if left := s.Drain(nil); len(left) != 0 {
		t.Errorf("drained %v after replay, want nothing", seqs(left))
	}
	next := publish(t, h, event("t"))
	if got := seqs(receiveUntil(t, s, nil, next.Seq)); !slices.Equal(got, []uint64{next.Seq}) {
		t.Errorf("live after lag: got %v, want [%d]", got, next.Seq)
	}
}

// TestReplayLagRandomized publishes bursts of random sizes at random points
// of a replay, with a queue of a few events, so that replays lag (once or
// repeatedly) at arbitrary points, and checks the exact sequence.
func TestReplayLagRandomized(t *testing.T) {
	var lags uint64
	for i := range 20 {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		topic := func() string { return []string{"t", "u"}[rng.IntN(2)] }
		h, j := startHub(t, hub.Config{QueueBytes: 256}) // about five frames
		for range 50 {
			publish(t, h, event(topic()))
		}
		s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
		var got []*hub.Message
		budget, published := 200, uint64(50)
		err := s.Replay(context.Background(), func(m *hub.Message) error {
			got = append(got, m)
			if budget > 0 && rng.IntN(4) == 0 {
				n := min(budget, 1+rng.IntN(12))
				budget -= n
				for range n {
					publish(t, h, event(topic()))
				}
				published += uint64(n)
				// Queued (or dropped) before the replay goes on.
				waitFannedOut(t, h, published)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got = s.Drain(got)
		if d := diffSeqs(seqs(got), journalSeqs(t, j, 0, onTopic("t"))); d != "" {
			t.Fatalf("iteration %d: %s", i, d)
		}
		if isDone(s) {
			t.Fatalf("iteration %d: subscription ended: %v", i, s.Err())
		}
		lags += h.Stats().ReplayLags
	}
	if lags == 0 {
		t.Error("no replay lagged: the test does not exercise the lag path")
	}
	t.Logf("%d replay lags over the iterations", lags)
}

func TestReplayFailureEndsSubscription(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	for range 3 {
		publish(t, h, event("t"))
	}
	errBoom := errors.New("boom")
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	if err := s.Replay(context.Background(), func(*hub.Message) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("Replay = %v, want the callback's error", err)
	}
	waitDone(t, s, errBoom)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	if err := s.Replay(ctx, func(*hub.Message) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Replay = %v, want context.Canceled", err)
	}
	waitDone(t, s, context.Canceled)

	s = subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	calls := 0
	err := s.Replay(context.Background(), func(*hub.Message) error {
		calls++
		s.Close()
		return nil
	})
	if !errors.Is(err, hub.ErrClosed) || calls != 1 {
		t.Errorf("Replay after Close = %v after %d calls, want ErrClosed after 1", err, calls)
	}
	if h.Stats().Subscribers != 0 {
		t.Errorf("Subscribers = %d, want 0", h.Stats().Subscribers)
	}
}

func TestReplayOnlyOnceAndNotForLive(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	publish(t, h, event("t"))
	waitFannedOut(t, h, 1)
	count := func(s *hub.Subscription) int {
		n := 0
		if err := s.Replay(context.Background(), func(*hub.Message) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	live := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	if n := count(live); n != 0 {
		t.Errorf("Replay of a live-only subscription handed out %d events", n)
	}
	resume := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	ev := publish(t, h, event("t"))
	waitFannedOut(t, h, 2)
	if got := resume.Drain(nil); len(got) != 0 {
		t.Errorf("Drain before Replay handed out %v", seqs(got))
	}
	if n := count(resume); n != 2 {
		t.Errorf("first Replay handed out %d events, want 2", n)
	}
	if n := count(resume); n != 0 {
		t.Errorf("second Replay handed out %d events, want 0", n)
	}
	if got := seqs(live.Drain(nil)); !slices.Equal(got, []uint64{ev.Seq}) {
		t.Errorf("live drained %v, want [%d]", got, ev.Seq)
	}
}

// TestReplayAheadOfFanout resumes while the fan-out lags behind the
// journal: the events the replay read ahead are not queued again when the
// fan-out reaches them.
func TestReplayAheadOfFanout(t *testing.T) {
	j := newJournal(t)
	h := hub.New(j, hub.Config{Logger: quiet})
	var evs []*journal.Event
	for range 5 {
		evs = append(evs, publish(t, h, event("t")))
	}
	h.Fanout(evs[0])
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	var got []*hub.Message
	if err := s.Replay(context.Background(), func(m *hub.Message) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2, 3, 4, 5}; !slices.Equal(seqs(got), want) {
		t.Fatalf("replayed %v, want %v", seqs(got), want)
	}
	for _, ev := range evs[1:] {
		h.Fanout(ev)
	}
	if n := h.Stats().Delivered; n != 0 {
		t.Errorf("%d replayed events queued again", n)
	}
	next := publish(t, h, event("t"))
	h.Fanout(next)
	if got := seqs(s.Drain(nil)); !slices.Equal(got, []uint64{next.Seq}) {
		t.Errorf("drained %v, want [%d]", got, next.Seq)
	}
}

// A replay of a recent event hands out the message the fan-out made, so
// that a transport's frame of it is encoded once for live subscribers and
// resuming ones alike; an older event gets a message of its own.
func TestReplaySharesRecentMessages(t *testing.T) {
	h, _ := startHub(t, hub.Config{})
	live := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	var last *journal.Event
	for range 300 {
		last = publish(t, h, event("t"))
	}
	fanned := receiveUntil(t, live, nil, last.Seq)
	resumed := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	var replayed []*hub.Message
	if err := resumed.Replay(context.Background(), func(m *hub.Message) error {
		replayed = append(replayed, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(replayed) != len(fanned) {
		t.Fatalf("replayed %d, fanned out %d", len(replayed), len(fanned))
	}
	for i := range replayed {
		recent := i >= len(fanned)-256
		if same := replayed[i] == fanned[i]; same != recent || replayed[i].Event.ID != fanned[i].Event.ID {
			t.Fatalf("event %d (recent: %v): shared %v", i, recent, same)
		}
	}
}

package journaltest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// follow starts a Follow that ends with the test.
func follow(t *testing.T, j journal.Journal, after uint64) <-chan *journal.Event {
	t.Helper()
	ch, err := j.Follow(t.Context(), after)
	if err != nil {
		t.Fatalf("Follow(after %d): %v", after, err)
	}
	return ch
}

// testFollowPastThenLive: Follow from a past position catches up on stored
// events, then delivers new ones, without duplicate at the seam.
func testFollowPastThenLive(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	evs := appendSeq(t, j, 5)
	ch := follow(t, j, 2)
	var got []*journal.Event
	for range 3 {
		got = append(got, receive(t, ch))
	}
	checkEvents(t, "Follow catch-up", got, evs[2:])

	for i := range 3 {
		ev := appendEvent(t, j, event(5+i))
		checkEvents(t, "Follow live", []*journal.Event{receive(t, ch)}, []*journal.Event{ev})
	}
}

// testFollowFromNow: Follow from Last delivers only what comes next.
func testFollowFromNow(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	appendSeq(t, j, 3)
	ch := follow(t, j, last(t, j))
	evs := appendSeq(t, j, 2)
	checkEvents(t, "Follow", []*journal.Event{receive(t, ch), receive(t, ch)}, evs)
}

// testFollowConcurrentAppends: followers started before and during a burst
// of concurrent appends each see every event after their start exactly
// once, in order.
func testFollowConcurrentAppends(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	const workers, perWorker = 4, 250
	const n = workers * perWorker

	var mu sync.Mutex
	ids := make(map[uint64]string, n) // Seq -> ID as Append reported it
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range perWorker {
				ev := event(w*perWorker + i)
				if err := j.Append(context.Background(), ev); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				ids[ev.Seq] = ev.ID
				mu.Unlock()
			}
		})
	}

	early := follow(t, j, 0)
	close(start)
	// The late follower starts from wherever the journal is once the early
	// one has seen a third of the burst.
	got := make([]*journal.Event, 0, n)
	for len(got) < n/3 {
		got = append(got, receive(t, early))
	}
	from := last(t, j)
	late := follow(t, j, from)
	for len(got) < n {
		got = append(got, receive(t, early))
	}
	var lateGot []*journal.Event
	for uint64(len(lateGot)) < n-from {
		lateGot = append(lateGot, receive(t, late))
	}
	wg.Wait()

	check := func(name string, evs []*journal.Event, after uint64) {
		t.Helper()
		for i, ev := range evs {
			if want := after + uint64(i) + 1; ev.Seq != want {
				t.Fatalf("%s follower: event #%d has Seq %d, want %d", name, i, ev.Seq, want)
			}
			if ev.ID != ids[ev.Seq] {
				t.Fatalf("%s follower: event %d has ID %q, Append reported %q", name, ev.Seq, ev.ID, ids[ev.Seq])
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	check("early", got, 0)
	check("late", lateGot, from)
}

// testFollowSlowConsumer: a follower that nobody reads holds up neither
// Append nor loses events; it delivers them all once read.
func testFollowSlowConsumer(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	ch := follow(t, j, 0)
	const n = 3000
	type result struct {
		evs []*journal.Event
		err error
	}
	appended := make(chan result, 1)
	go func() {
		evs, err := appendAll(j, n, 8)
		appended <- result{evs, err}
	}()
	var evs []*journal.Event
	select {
	case r := <-appended:
		if r.err != nil {
			t.Fatalf("Append: %v", r.err)
		}
		evs = r.evs
	case <-time.After(waitLimit):
		t.Fatalf("%d appends did not finish within %v while a follower was not read", n, waitLimit)
	}
	got := make([]*journal.Event, 0, n)
	for range n {
		got = append(got, receive(t, ch))
	}
	checkEvents(t, "slow follower", got, evs)
}

// testFollowCancel: the end of the follower's context closes its channel,
// even with events waiting to be read.
func testFollowCancel(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	appendSeq(t, j, 10)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := j.Follow(ctx, 0)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	receive(t, ch)
	cancel()
	waitClosed(t, ch)

	if _, err := j.Follow(ctx, 0); err == nil {
		t.Fatal("Follow with an ended context succeeded")
	}
}

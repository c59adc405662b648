package journaltest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// testClose: Close ends every follower; the journal then refuses use. A
// journal that is a [journal.Checker] says it can commit until then.
func testClose(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	evs := appendSeq(t, j, 3)
	checker, _ := j.(journal.Checker)
	if checker != nil {
		if err := checker.Check(t.Context()); err != nil {
			t.Fatalf("Check of an open journal: %v", err)
		}
	}
	ch := follow(t, j, 0)
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, ch)

	ctx := t.Context()
	checkClosed := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, journal.ErrClosed) {
			t.Fatalf("%s after Close: %v, want ErrClosed", op, err)
		}
	}
	checkClosed("Append", j.Append(ctx, event(9)))
	checkClosed("Read", j.Read(ctx, 0, func(*journal.Event) error { return nil }))
	_, err := j.Follow(ctx, 0)
	checkClosed("Follow", err)
	_, err = j.Lookup(ctx, evs[0].ID)
	checkClosed("Lookup", err)
	_, err = j.Last(ctx)
	checkClosed("Last", err)
	if checker != nil {
		checkClosed("Check", checker.Check(ctx))
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// testCloseWhileAppending: appends racing Close either succeed, and then
// are stored, or fail with ErrClosed; none hangs.
func testCloseWhileAppending(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	const workers = 8
	accepted := make([][]*journal.Event, workers)
	errs := make([]error, workers)
	var stored atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				ev := event(w*1_000_000 + i)
				if err := j.Append(context.Background(), ev); err != nil {
					errs[w] = err
					return
				}
				accepted[w] = append(accepted[w], ev)
				stored.Add(1)
			}
		})
	}
	deadline := time.Now().Add(waitLimit)
	for stored.Load() < 200 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d appends within %v", stored.Load(), waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatalf("appends still blocked %v after Close", waitLimit)
	}
	for _, err := range errs {
		if !errors.Is(err, journal.ErrClosed) {
			t.Fatalf("Append racing Close: %v, want nil or ErrClosed", err)
		}
	}
	if f.Reopen == nil {
		return
	}
	all := slices.Concat(accepted...)
	slices.SortFunc(all, func(a, b *journal.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	j = f.Reopen(t, j)
	checkEvents(t, "Read after reopen", readAll(t, j, 0), all)
}

// testCloseStopsGoroutines: after Close, nothing the journal started is
// left running, whether its followers were read or not. synctest.Test
// fails if any goroutine of the bubble is still blocked when it ends.
func testCloseStopsGoroutines(t *testing.T, f Factory) {
	synctest.Test(t, func(t *testing.T) {
		j := f.Open(t, journal.Retention{MaxAge: time.Hour})
		appendSeq(t, j, 5)
		// Only Close can end these followers: their context never ends.
		unread, err := j.Follow(context.Background(), 0)
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
		read, err := j.Follow(context.Background(), 0)
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
		for range 5 {
			receive(t, read)
		}
		if err := j.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		waitClosed(t, unread)
		waitClosed(t, read)
	})
}

// testReopen: a reopened journal holds the same events, IDs and epoch, and
// continues their positions.
func testReopen(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("the journal keeps nothing across Close")
	}
	j := f.Open(t, journal.Retention{})
	var evs []*journal.Event
	for i := range 10 {
		ev := event(i)
		if i%3 == 0 {
			ev.ID = fmt.Sprintf("pub-%d", i)
		}
		ev.Type = fmt.Sprintf("type-%d", i%2)
		ev.Retry = time.Duration(i) * time.Second
		ev.Private = i%4 == 0
		evs = append(evs, appendEvent(t, j, ev))
	}
	j = f.Reopen(t, j)

	if got := last(t, j); got != 10 {
		t.Fatalf("Last after reopen = %d, want 10", got)
	}
	checkEvents(t, "Read after reopen", readAll(t, j, 0), evs)
	for _, ev := range evs {
		if seq, err := j.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
			t.Fatalf("Lookup(%q) after reopen = %d, %v; want %d", ev.ID, seq, err, ev.Seq)
		}
	}
	next := appendEvent(t, j, event(10))
	epoch, _, _ := journal.ParseID(evs[1].ID)
	if e, seq, _ := journal.ParseID(next.ID); seq != 11 || e != epoch {
		t.Fatalf("first ID after reopen %q, want Seq 11 in epoch %q", next.ID, epoch)
	}
	if err := j.Append(t.Context(), &journal.Event{ID: "pub-0", Topics: []string{"t"}}); !errors.Is(err, journal.ErrDuplicateID) {
		t.Fatalf("Append of a stored ID after reopen: %v, want ErrDuplicateID", err)
	}
	ch := follow(t, j, 8)
	checkEvents(t, "Follow(8) after reopen", []*journal.Event{receive(t, ch), receive(t, ch), receive(t, ch)},
		append(evs[8:], next))
}

// testReopenRetention: what retention dropped stays dropped after reopen,
// and retention goes on from there.
func testReopenRetention(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("the journal keeps nothing across Close")
	}
	j := f.Open(t, journal.Retention{MaxEvents: 3})
	evs := appendSeq(t, j, 5)
	j = f.Reopen(t, j)
	checkEvents(t, "Read after reopen", readAll(t, j, 0), evs[2:])
	checkUnknown(t, j, evs[0].ID)
	checkUnknown(t, j, evs[1].ID)
	next := appendEvent(t, j, event(5))
	checkEvents(t, "Read after another append", readAll(t, j, 0), append(evs[3:], next))
}

package journaltest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// Factory tells [Run] how to open the journal under test.
type Factory struct {
	// Open returns a new, empty journal that keeps what ret allows. The
	// Factory arranges (with t.Cleanup) for it to be closed; the suite may
	// also close it itself, so Close must tolerate a second call.
	Open func(t *testing.T, ret journal.Retention) journal.Journal
	// Reopen closes j and opens its storage again with the same retention,
	// as a restart of the process would. It is nil for a journal that keeps
	// nothing across Close, which skips the durability tests.
	Reopen func(t *testing.T, j journal.Journal) journal.Journal
	// OpenPeer opens a second handle on j's storage, as another node of a
	// cluster would, closed when the test ends. It is nil for a journal
	// that only one process can open, which skips the multi-node tests.
	OpenPeer func(t *testing.T, j journal.Journal) journal.Journal
}

// waitLimit bounds every wait in the suite, so a journal that loses an
// event or a wakeup fails the test instead of hanging it.
const waitLimit = 10 * time.Second

// Run runs the conformance suite against the journals f opens, each case
// in its own parallel subtest.
func Run(t *testing.T, f Factory) {
	t.Helper()
	cases := []struct {
		name string
		test func(*testing.T, Factory)
	}{
		{"Sequence", testSequence},
		{"RoundTrip", testRoundTrip},
		{"AppendKeepsCopy", testAppendKeepsCopy},
		{"PublisherIDs", testPublisherIDs},
		{"UnknownIDs", testUnknownIDs},
		{"DuplicateID", testDuplicateID},
		{"ConcurrentDuplicateID", testConcurrentDuplicateID},
		{"ReservedID", testReservedID},
		{"AppendCanceled", testAppendCanceled},
		{"ReadPositions", testReadPositions},
		{"ReadEmpty", testReadEmpty},
		{"ReadStops", testReadStops},
		{"ReadReentrant", testReadReentrant},
		{"FollowPastThenLive", testFollowPastThenLive},
		{"FollowFromNow", testFollowFromNow},
		{"FollowConcurrentAppends", testFollowConcurrentAppends},
		{"FollowSlowConsumer", testFollowSlowConsumer},
		{"FollowCancel", testFollowCancel},
		{"RetentionCount", testRetentionCount},
		{"RetentionAge", testRetentionAge},
		{"Close", testClose},
		{"CloseWhileAppending", testCloseWhileAppending},
		{"CloseStopsGoroutines", testCloseStopsGoroutines},
		{"Reopen", testReopen},
		{"ReopenRetention", testReopenRetention},
		{"Stats", testStats},
		{"QueueOrder", testQueueOrder},
		{"PeerFollowRead", testPeerFollowRead},
		{"PeerReadAfterFollow", testPeerReadAfterFollow},
		{"PeerConcurrentAppends", testPeerConcurrentAppends},
		{"PeerDuplicateID", testPeerDuplicateID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, f)
		})
	}
}

// event returns the i-th test event: no ID, one topic, a small payload.
func event(i int) *journal.Event {
	return &journal.Event{
		Topics: []string{fmt.Sprintf("https://example.com/books/%d", i)},
		Data:   fmt.Appendf(nil, `{"n":%d}`, i),
	}
}

// appendEvent appends ev and fails the test if the journal refuses it.
func appendEvent(t *testing.T, j journal.Journal, ev *journal.Event) *journal.Event {
	t.Helper()
	if err := j.Append(t.Context(), ev); err != nil {
		t.Fatalf("Append(%q): %v", ev.ID, err)
	}
	return ev
}

// appendSeq appends n events one after the other.
func appendSeq(t *testing.T, j journal.Journal, n int) []*journal.Event {
	t.Helper()
	evs := make([]*journal.Event, n)
	for i := range evs {
		evs[i] = appendEvent(t, j, event(i))
	}
	return evs
}

// appendConcurrently appends n events from workers goroutines, which lets a
// group-committing journal batch them, and returns them ordered by Seq.
func appendConcurrently(t *testing.T, j journal.Journal, n, workers int) []*journal.Event {
	t.Helper()
	evs, err := appendAll(j, n, workers)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return evs
}

// appendAll is appendConcurrently for goroutines other than the test's.
func appendAll(j journal.Journal, n, workers int) ([]*journal.Event, error) {
	return appendFrom(j, 0, n, workers)
}

// appendFrom is appendAll of the events numbered from first on.
func appendFrom(j journal.Journal, first, n, workers int) ([]*journal.Event, error) {
	evs := make([]*journal.Event, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				evs[i] = event(first + i)
				if err := j.Append(context.Background(), evs[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	slices.SortFunc(evs, func(a, b *journal.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return evs, nil
}

// readAll returns what Read delivers after a position.
func readAll(t *testing.T, j journal.Journal, after uint64) []*journal.Event {
	t.Helper()
	var got []*journal.Event
	err := j.Read(t.Context(), after, func(ev *journal.Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(after %d): %v", after, err)
	}
	return got
}

// last returns the journal's Last position.
func last(t *testing.T, j journal.Journal) uint64 {
	t.Helper()
	seq, err := j.Last(t.Context())
	if err != nil {
		t.Fatalf("Last: %v", err)
	}
	return seq
}

// receive returns the next event on ch, failing the test if ch closes or
// nothing arrives within waitLimit.
func receive(t *testing.T, ch <-chan *journal.Event) *journal.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("Follow channel closed early")
		}
		return ev
	case <-time.After(waitLimit):
		t.Fatalf("no event within %v", waitLimit)
		return nil
	}
}

// waitClosed drains ch until it is closed, failing the test if that takes
// longer than waitLimit.
func waitClosed(t *testing.T, ch <-chan *journal.Event) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("Follow channel still open after %v", waitLimit)
		}
	}
}

// sameEvent reports how got differs from want, or "" when they are the
// same event.
func sameEvent(got, want *journal.Event) string {
	switch {
	case got.Seq != want.Seq:
		return fmt.Sprintf("Seq %d, want %d", got.Seq, want.Seq)
	case got.ID != want.ID:
		return fmt.Sprintf("event %d: ID %q, want %q", want.Seq, got.ID, want.ID)
	case !slices.Equal(got.Topics, want.Topics):
		return fmt.Sprintf("event %d: Topics %q, want %q", want.Seq, got.Topics, want.Topics)
	case got.Type != want.Type:
		return fmt.Sprintf("event %d: Type %q, want %q", want.Seq, got.Type, want.Type)
	case !bytes.Equal(got.Data, want.Data):
		return fmt.Sprintf("event %d: Data %q, want %q", want.Seq, got.Data, want.Data)
	case got.Retry != want.Retry:
		return fmt.Sprintf("event %d: Retry %v, want %v", want.Seq, got.Retry, want.Retry)
	case got.Private != want.Private:
		return fmt.Sprintf("event %d: Private %v, want %v", want.Seq, got.Private, want.Private)
	case !got.Time.Equal(want.Time):
		return fmt.Sprintf("event %d: Time %v, want %v", want.Seq, got.Time, want.Time)
	}
	return ""
}

// checkEvents fails the test unless got and want hold the same events in
// the same order.
func checkEvents(t *testing.T, what string, got, want []*journal.Event) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if diff := sameEvent(got[i], want[i]); diff != "" {
			t.Fatalf("%s: #%d: %s", what, i, diff)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events (Seq %v), want %d (Seq %v)", what, len(got), seqs(got), len(want), seqs(want))
	}
}

// seqs lists the positions of evs, for failure messages.
func seqs(evs []*journal.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	if len(out) > 20 {
		out = append(out[:10], out[len(out)-10:]...)
	}
	return out
}

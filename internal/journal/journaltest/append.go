package journaltest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// testSequence: positions start at 1 and grow by one; generated IDs carry
// one epoch and the position, and resolve through Lookup.
func testSequence(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	if got := last(t, j); got != 0 {
		t.Fatalf("Last of an empty journal = %d, want 0", got)
	}
	evs := appendSeq(t, j, 20)
	var epoch string
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event #%d: Seq %d, want %d", i, ev.Seq, i+1)
		}
		e, seq, ok := journal.ParseID(ev.ID)
		if !ok || seq != ev.Seq {
			t.Fatalf("event %d: ID %q does not parse to its Seq", ev.Seq, ev.ID)
		}
		if i == 0 {
			epoch = e
		} else if e != epoch {
			t.Fatalf("event %d: epoch %q, earlier events had %q", ev.Seq, e, epoch)
		}
		if ev.Time.IsZero() || i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("event %d: Time %v is zero or before the previous event's", ev.Seq, ev.Time)
		}
		got, err := j.Lookup(t.Context(), ev.ID)
		if err != nil || got != ev.Seq {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", ev.ID, got, err, ev.Seq)
		}
	}
	if got := last(t, j); got != 20 {
		t.Fatalf("Last = %d, want 20", got)
	}
}

// testRoundTrip: every field comes back from Read and Follow as appended.
func testRoundTrip(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	in := []*journal.Event{
		{Topics: []string{"https://example.com/books/1"}, Data: []byte("hello")},
		{
			ID:      "publisher-chosen/ünïcode id",
			Topics:  []string{"https://example.com/books/2", "https://example.com/authors/7", "urn:isbn:9780"},
			Type:    "book.updated",
			Data:    []byte("line 1\nline 2\r\nline 3\r\x00\xff binary"),
			Retry:   1500 * time.Millisecond,
			Private: true,
		},
		{Topics: []string{"t"}},
		{Topics: []string{"t"}, Data: make([]byte, 100_000)},
		{Type: "no-topic", Retry: time.Nanosecond},
	}
	for _, ev := range in {
		appendEvent(t, j, ev)
	}
	checkEvents(t, "Read", readAll(t, j, 0), in)

	ch, err := j.Follow(t.Context(), 0)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	var followed []*journal.Event
	for range in {
		followed = append(followed, receive(t, ch))
	}
	checkEvents(t, "Follow", followed, in)
}

// testAppendKeepsCopy: changing an event after Append does not change what
// the journal stored.
func testAppendKeepsCopy(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	ev := appendEvent(t, j, &journal.Event{Topics: []string{"a"}, Data: []byte("original")})
	want := *ev
	want.Topics = []string{"a"}
	want.Data = []byte("original")
	ev.Topics[0] = "changed"
	copy(ev.Data, "CHANGED!")
	checkEvents(t, "Read", readAll(t, j, 0), []*journal.Event{&want})
}

// testPublisherIDs: publisher-chosen IDs are kept verbatim and resolve
// through Lookup, mixed with generated ones.
func testPublisherIDs(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	ids := []string{"book-1", "", "a b c", "urn:uuid:4f1c1e0a-7f4e-4d2a-9a55-2a6a8c1f6f10", "", "ÿ", "herald"}
	for i, id := range ids {
		ev := appendEvent(t, j, &journal.Event{ID: id, Topics: []string{"t"}})
		if id != "" && ev.ID != id {
			t.Fatalf("Append changed the publisher's ID %q to %q", id, ev.ID)
		}
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %q: Seq %d, want %d", ev.ID, ev.Seq, i+1)
		}
	}
	for i, ev := range readAll(t, j, 0) {
		seq, err := j.Lookup(t.Context(), ev.ID)
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", ev.ID, seq, err, i+1)
		}
	}
}

// testUnknownIDs: IDs the journal never issued, issued by another epoch or
// beyond its last position resolve to ErrUnknownID.
func testUnknownIDs(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	checkUnknown(t, j, "never-stored")
	ev := appendEvent(t, j, event(0))
	epoch, _, _ := journal.ParseID(ev.ID)
	for _, id := range []string{
		"",
		"never-stored",
		journal.FormatID(epoch, 2),
		journal.FormatID(epoch+"x", 1),
		journal.FormatID(journal.NewEpoch(), 1),
		"urn:herald:",
		"urn:herald:" + epoch,
		"urn:herald:" + epoch + ":",
		"urn:herald:" + epoch + ":0",
		"urn:herald:" + epoch + ":-1",
		"urn:herald:" + epoch + ":1x",
	} {
		checkUnknown(t, j, id)
	}
}

// checkUnknown fails the test unless Lookup(id) gives ErrUnknownID.
func checkUnknown(t *testing.T, j journal.Journal, id string) {
	t.Helper()
	if seq, err := j.Lookup(t.Context(), id); !errors.Is(err, journal.ErrUnknownID) {
		t.Fatalf("Lookup(%q) = %d, %v; want ErrUnknownID", id, seq, err)
	}
}

// testDuplicateID: a retained publisher ID cannot be stored twice, and the
// refusal neither consumes a position nor touches the event.
func testDuplicateID(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	appendEvent(t, j, &journal.Event{ID: "dup", Topics: []string{"t"}, Data: []byte("first")})
	again := &journal.Event{ID: "dup", Topics: []string{"t"}, Data: []byte("second")}
	if err := j.Append(t.Context(), again); !errors.Is(err, journal.ErrDuplicateID) {
		t.Fatalf("second Append of ID %q: %v, want ErrDuplicateID", "dup", err)
	}
	if again.Seq != 0 || !again.Time.IsZero() {
		t.Fatalf("refused Append set Seq %d, Time %v", again.Seq, again.Time)
	}
	if next := appendEvent(t, j, event(1)); next.Seq != 2 {
		t.Fatalf("Seq after a refused duplicate = %d, want 2", next.Seq)
	}
	got := readAll(t, j, 0)
	if len(got) != 2 || string(got[0].Data) != "first" {
		t.Fatalf("Read after a refused duplicate: %d events, first Data %q", len(got), got[0].Data)
	}
}

// testConcurrentDuplicateID: of concurrent appends with one ID, which a
// group commit may put in one batch, exactly one succeeds.
func testConcurrentDuplicateID(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = j.Append(context.Background(), &journal.Event{ID: "same", Topics: []string{"t"}})
		})
	}
	wg.Wait()
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case !errors.Is(err, journal.ErrDuplicateID):
			t.Fatalf("Append: %v, want nil or ErrDuplicateID", err)
		}
	}
	if stored != 1 || last(t, j) != 1 {
		t.Fatalf("%d of %d concurrent appends of one ID succeeded, Last = %d; want 1 and 1", stored, n, last(t, j))
	}
}

// testReservedID: publishers cannot use the generated-ID namespace, nor
// Mercure's "earliest".
func testReservedID(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	ev := appendEvent(t, j, event(0))
	for _, id := range []string{ev.ID, journal.FormatID("other", 7), "urn:herald:", "urn:herald:anything", "earliest"} {
		if err := j.Append(t.Context(), &journal.Event{ID: id, Topics: []string{"t"}}); !errors.Is(err, journal.ErrReservedID) {
			t.Fatalf("Append with ID %q: %v, want ErrReservedID", id, err)
		}
	}
	if got := last(t, j); got != 1 {
		t.Fatalf("Last = %d after refused appends, want 1", got)
	}
}

// testAppendCanceled: an append whose context has ended is not stored.
func testAppendCanceled(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := j.Append(ctx, event(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context: %v, want context.Canceled", err)
	}
	if got := last(t, j); got != 0 {
		t.Fatalf("Last = %d after a canceled append, want 0", got)
	}
}

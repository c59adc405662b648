package journaltest

import (
	"testing"

	"github.com/heraldhub/herald/internal/journal"
)

// testQueueOrder: a journal that queues appends ([journal.Queuer]) stores
// them in the order of the Queue calls, whatever order their waits run
// in, and each wait reports its own event's position. Journals without
// Queue skip it.
func testQueueOrder(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	q, ok := j.(journal.Queuer)
	if !ok {
		t.Skip("the journal does not queue appends")
	}
	const n = 200
	evs := make([]*journal.Event, n)
	waits := make([]func() error, n)
	for i := range evs {
		evs[i] = event(i)
		wait, err := q.Queue(t.Context(), evs[i])
		if err != nil {
			t.Fatalf("Queue #%d: %v", i, err)
		}
		waits[i] = wait
	}
	// Wait newest first: the order of the waits must not matter.
	for i := n - 1; i >= 0; i-- {
		if err := waits[i](); err != nil {
			t.Fatalf("wait #%d: %v", i, err)
		}
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.ID == "" || ev.Time.IsZero() {
			t.Fatalf("event #%d: Seq %d, ID %q, Time %v; want Seq %d and ID and Time set", i, ev.Seq, ev.ID, ev.Time, i+1)
		}
	}
	got := readAll(t, j, 0)
	if len(got) != n {
		t.Fatalf("Read: %d events, want %d", len(got), n)
	}
	for i, ev := range got {
		if string(ev.Data) != string(evs[i].Data) {
			t.Fatalf("event at %d holds %s, want %s (queued #%d)", ev.Seq, ev.Data, evs[i].Data, i)
		}
	}
}

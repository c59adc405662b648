package journaltest

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// testRetentionCount: beyond MaxEvents the oldest events go, with their IDs;
// reads and follows from before the oldest start at the oldest.
func testRetentionCount(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{MaxEvents: 5})
	var evs []*journal.Event
	for i := range 12 {
		ev := event(i)
		if i%2 == 0 {
			ev.ID = fmt.Sprintf("pub-%d", i)
		}
		evs = append(evs, appendEvent(t, j, ev))
	}
	kept, gone := evs[7:], evs[:7]
	checkEvents(t, "Read(0)", readAll(t, j, 0), kept)
	checkEvents(t, "Read(3)", readAll(t, j, 3), kept)
	checkEvents(t, "Read(9)", readAll(t, j, 9), kept[2:])
	if got := last(t, j); got != 12 {
		t.Fatalf("Last = %d, want 12", got)
	}
	for _, ev := range gone {
		checkUnknown(t, j, ev.ID)
	}
	for _, ev := range kept {
		if seq, err := j.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", ev.ID, seq, err, ev.Seq)
		}
	}
	for _, after := range []uint64{0, 3} {
		ch := follow(t, j, after)
		checkEvents(t, fmt.Sprintf("Follow(%d)", after), []*journal.Event{receive(t, ch)}, kept[:1])
	}
	// A dropped event no longer holds its ID: a publisher may use it again.
	reused := appendEvent(t, j, &journal.Event{ID: gone[0].ID, Topics: []string{"t"}})
	if seq, err := j.Lookup(t.Context(), reused.ID); err != nil || seq != 13 {
		t.Fatalf("Lookup(%q) of a reused ID = %d, %v; want 13", reused.ID, seq, err)
	}
}

// testRetentionAge: events go once MaxAge old, with their IDs, while the
// position keeps counting from where it was.
func testRetentionAge(t *testing.T, f Factory) {
	synctest.Test(t, func(t *testing.T) {
		const age = time.Minute
		j := f.Open(t, journal.Retention{MaxAge: age})
		old := []*journal.Event{
			appendEvent(t, j, &journal.Event{ID: "old-1", Topics: []string{"t"}}),
			appendEvent(t, j, event(2)),
			appendEvent(t, j, event(3)),
		}
		time.Sleep(age / 2)
		young := []*journal.Event{
			appendEvent(t, j, &journal.Event{ID: "young-1", Topics: []string{"t"}}),
			appendEvent(t, j, event(5)),
		}
		time.Sleep(age/2 + time.Second)
		// Let a journal that trims in the background finish doing so.
		synctest.Wait()

		checkEvents(t, "Read after the first events expired", readAll(t, j, 0), young)
		for _, ev := range old {
			checkUnknown(t, j, ev.ID)
		}
		for _, ev := range young {
			if seq, err := j.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
				t.Fatalf("Lookup(%q) = %d, %v; want %d", ev.ID, seq, err, ev.Seq)
			}
		}
		ch := follow(t, j, 0)
		checkEvents(t, "Follow(0)", []*journal.Event{receive(t, ch)}, young[:1])

		time.Sleep(age / 2)
		synctest.Wait()
		if got := readAll(t, j, 0); len(got) != 0 {
			t.Fatalf("Read after every event expired delivered Seq %v", seqs(got))
		}
		checkUnknown(t, j, young[0].ID)
		if f.Reopen != nil {
			j = f.Reopen(t, j)
		}
		if got := last(t, j); got != 5 {
			t.Fatalf("Last = %d once every event expired, want 5", got)
		}
		if next := appendEvent(t, j, event(6)); next.Seq != 6 {
			t.Fatalf("Seq after every event expired = %d, want 6", next.Seq)
		}
	})
}

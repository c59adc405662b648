package hub_test

import (
	"context"
	"testing"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
)

// An announcement reaches the live subscribers it matches (private ones
// only those granted), with no ID, and leaves no trace in the journal:
// nothing to replay, no position taken.
func TestAnnounceIsLiveOnly(t *testing.T) {
	h, j := startHub(t, hub.Config{})
	before := publish(t, h, event("t"))
	waitFannedOut(t, h, 1)
	watcher := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "subs/{id}", "t"), Grants: sels(t, "subs/{id}")})
	public := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "subs/{id}", "t")})
	if !h.Announce(&journal.Event{Topics: []string{"subs/1"}, Data: []byte("joined"), Private: true}) {
		t.Fatal("Announce refused one batch")
	}
	after := publish(t, h, event("t"))

	got := receiveUntil(t, watcher, nil, after.Seq)
	if len(got) != 2 || string(got[0].Event.Data) != "joined" || got[0].Event.ID != "" || got[1].Event.Seq != after.Seq {
		t.Fatalf("watcher got %d messages (%v), want the announcement then seq %d", len(got), seqs(got), after.Seq)
	}
	if got := receiveUntil(t, public, nil, after.Seq); len(got) != 1 {
		t.Fatalf("an ungranted subscriber got %d messages, want only seq %d", len(got), after.Seq)
	}
	if last, _ := j.Last(context.Background()); last != after.Seq {
		t.Fatalf("journal head %d, want %d: the announcement took a position", last, after.Seq)
	}
	if d := diffSeqs(journalSeqs(t, j, before.Seq-1, onTopic("subs/1")), nil); d != "" {
		t.Fatalf("announcement journaled: %s", d)
	}
	if st := h.Stats(); st.Announced != 1 || st.Published != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Announce never blocks: past the queue's bound, batches are dropped and
// counted.
func TestAnnounceDropsWhenFull(t *testing.T) {
	h := hub.New(newJournal(t), hub.Config{Logger: quiet}) // not running: nothing drains
	ev := &journal.Event{Topics: []string{"subs/1"}}
	n := 0
	for h.Announce(ev, ev) {
		if n++; n > 100_000 {
			t.Fatal("Announce never refused")
		}
	}
	if got := h.Stats().AnnouncementsDropped; got != 2 {
		t.Fatalf("AnnouncementsDropped = %d, want the 2 events of the refused batch", got)
	}
}

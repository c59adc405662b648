package bolt

import (
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/heraldhub/herald/internal/journal"
)

func seqs(evs []*journal.Event) []uint64 {
	var out []uint64
	for _, ev := range evs {
		out = append(out, ev.Seq)
	}
	return out
}

// one is a batch of one record, for add.
func one(seq uint64, record []byte) []*recentEvent {
	return []*recentEvent{{seq: seq, record: record}}
}

// record returns a stored event's record of about size bytes.
func record(size int) []byte {
	return encodeEvent(&journal.Event{Topics: []string{"t"}, Data: make([]byte, size)})
}

func TestRecentEvents(t *testing.T) {
	// Everything applied: the bounds alone decide.
	r := recentEvents{epoch: "e", applied: math.MaxUint64, log: slog.New(slog.DiscardHandler)}
	if _, ok := r.fetch(0, 10, 1, make([]*journal.Event, 0, 8)); ok {
		t.Fatal("an empty cache answered")
	}
	for seq := uint64(1); seq <= recentMax+10; seq++ {
		r.add(one(seq, record(100)))
	}
	// The oldest ten were evicted by count.
	if _, ok := r.fetch(9, 20, 1, make([]*journal.Event, 0, 8)); ok {
		t.Error("answered for an evicted event")
	}
	got, ok := r.fetch(10, 20, 1, make([]*journal.Event, 0, 4))
	if !ok || len(got) != 4 || got[0].Seq != 11 || got[3].Seq != 14 {
		t.Errorf("fetch(10, 20) into 4 = %v, %v; want 11-14", seqs(got), ok)
	}
	// Decoded once: a second reader gets the same event.
	again, _ := r.fetch(10, 11, 1, make([]*journal.Event, 0, 4))
	if len(again) != 1 || again[0] != got[0] || again[0].ID != journal.FormatID("e", 11) {
		t.Errorf("a second fetch decoded again, or wrongly: %+v", again)
	}
	if r.has(10) || !r.has(11) || !r.has(recentMax+10) || r.has(recentMax+11) {
		t.Error("has disagrees with what the cache holds (11 to recentMax+10)")
	}
	// Retention: events before first are not served.
	got, ok = r.fetch(10, 20, 15, make([]*journal.Event, 0, 8))
	if !ok || len(got) != 6 || got[0].Seq != 15 || got[5].Seq != 20 {
		t.Errorf("fetch(10, 20) with first 15 = %v, %v; want 15-20", seqs(got), ok)
	}
	// Beyond the newest: the file answers.
	if _, ok := r.fetch(recentMax, recentMax+11, 1, make([]*journal.Event, 0, 8)); ok {
		t.Error("answered past the newest event")
	}
	// An empty range inside the cache.
	if got, ok := r.fetch(20, 20, 1, make([]*journal.Event, 0, 8)); !ok || len(got) != 0 {
		t.Errorf("fetch(20, 20) = %v, %v; want nothing, answered", seqs(got), ok)
	}

	// A gap in positions empties the cache.
	r.add(one(recentMax+20, record(100)))
	if _, ok := r.fetch(recentMax+5, recentMax+10, 1, make([]*journal.Event, 0, 8)); ok {
		t.Error("answered for events from before a gap")
	}
	if got, ok := r.fetch(recentMax+19, recentMax+20, 1, make([]*journal.Event, 0, 8)); !ok || len(got) != 1 {
		t.Errorf("after the gap: %v, %v", seqs(got), ok)
	}

	// A record that does not decode is skipped: the file may not have
	// it yet.
	r.add(one(recentMax+21, []byte("garbage")))
	r.add(one(recentMax+22, record(100)))
	if got, ok := r.fetch(recentMax+19, recentMax+22, 1, make([]*journal.Event, 0, 8)); !ok || !slices.Equal(seqs(got), []uint64{recentMax + 20, recentMax + 22}) {
		t.Errorf("through an undecodable record: %v, %v; want it skipped", seqs(got), ok)
	}

	// The byte bound evicts; the newest is kept however large.
	r = recentEvents{epoch: "e", applied: math.MaxUint64}
	r.add(one(1, record(recentBytes/2)))
	r.add(one(2, record(recentBytes/2)))
	r.add(one(3, record(10)))
	if _, ok := r.fetch(0, 3, 1, make([]*journal.Event, 0, 8)); ok {
		t.Error("kept more than recentBytes")
	}
	if got, ok := r.fetch(1, 3, 1, make([]*journal.Event, 0, 8)); !ok || len(got) != 2 {
		t.Errorf("fetch(1, 3) = %v, %v; want 2-3", seqs(got), ok)
	}
	r.add(one(4, record(2*recentBytes)))
	if got, ok := r.fetch(3, 4, 1, make([]*journal.Event, 0, 8)); !ok || len(got) != 1 || got[0].Seq != 4 {
		t.Errorf("an event over the bound: %v, %v; want it alone", seqs(got), ok)
	}
}

// The cache keeps every event the file does not hold yet, beyond its
// bounds, and lets them go once the applier has stored them.
func TestRecentEventsKeepsUnapplied(t *testing.T) {
	r := recentEvents{epoch: "e"}
	const n = 3*recentMax + 5
	for seq := uint64(1); seq <= n; seq++ {
		r.add(one(seq, record(100)))
	}
	got, ok := r.fetch(0, n, 1, make([]*journal.Event, 0, n))
	if !ok || len(got) != n || got[0].Seq != 1 || got[n-1].Seq != n {
		t.Fatalf("with nothing applied, fetch(0, %d) = %d events, %v; want all", n, len(got), ok)
	}
	r.release(recentMax)
	if !r.has(recentMax+1) || !r.has(n) {
		t.Error("release evicted an event not applied")
	}
	r.release(n)
	if r.has(n-recentMax) || !r.has(n-recentMax+1) || !r.has(n) {
		t.Errorf("with everything applied, the cache holds %d events, want the newest %d", r.n, recentMax)
	}
	if len(r.ring) > 2*recentMax {
		t.Errorf("the ring kept %d slots for %d events", len(r.ring), r.n)
	}
	// Bytes too: unapplied events over recentBytes stay.
	r = recentEvents{epoch: "e"}
	for seq := uint64(1); seq <= 4; seq++ {
		r.add(one(seq, record(recentBytes/2)))
	}
	if !r.has(1) {
		t.Error("the byte bound evicted an event not applied")
	}
	r.release(4)
	if r.has(3) || !r.has(4) {
		t.Error("once applied, the byte bound did not apply")
	}
}

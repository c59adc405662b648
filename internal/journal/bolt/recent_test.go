package bolt

import (
	"iter"
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

// one is a commit of one record, for add.
func one(seq uint64, record []byte) iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) { yield(seq, record) }
}

// record returns a stored event's record of about size bytes.
func record(size int) []byte {
	return encodeEvent(&journal.Event{Topics: []string{"t"}, Data: make([]byte, size)})[keyLen:]
}

func TestRecentEvents(t *testing.T) {
	r := recentEvents{epoch: "e"}
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

	// A record that does not decode leaves the read to the file.
	r.add(one(recentMax+21, []byte("garbage")))
	if got, ok := r.fetch(recentMax+19, recentMax+21, 1, make([]*journal.Event, 0, 8)); ok || len(got) != 0 {
		t.Errorf("through an undecodable record: %v, %v; want the file to answer", seqs(got), ok)
	}

	// The byte bound evicts; the newest is kept however large.
	r = recentEvents{epoch: "e"}
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

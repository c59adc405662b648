package bolt_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

// topicView keeps, per topic, the position of its newest event: the kind
// of view the state tree is, small enough to check by hand.
type topicView struct {
	// fail makes Apply fail for events of this topic.
	fail string
}

var errViewFull = errors.New("view full")

func (topicView) Name() []byte { return []byte("newest") }

func (v topicView) Apply(b *bbolt.Bucket, ev *journal.Event) error {
	if !strings.HasPrefix(ev.Topics[0], "kept/") {
		return nil
	}
	if ev.Topics[0] == v.fail {
		return errViewFull
	}
	return b.Put([]byte(ev.Topics[0]), binary.BigEndian.AppendUint64(nil, ev.Seq))
}

// readView returns the view's contents and the journal's last position.
func readView(t *testing.T, j *bolt.Journal, v bolt.View) (map[string]uint64, uint64) {
	t.Helper()
	got := make(map[string]uint64)
	var last uint64
	err := j.ReadView(v, func(b *bbolt.Bucket, l uint64) error {
		last = l
		return b.ForEach(func(k, val []byte) error {
			got[string(k)] = binary.BigEndian.Uint64(val)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("ReadView: %v", err)
	}
	return got, last
}

// TestView: a view is updated in the commit of each event, survives a
// reopen and retention, and a view that cannot write fails the commit,
// storing nothing of it.
func TestView(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	opts := bolt.Options{Views: []bolt.View{topicView{fail: "kept/full"}}, Retention: journal.Retention{MaxEvents: 2}}
	j := open(t, path, opts)
	for _, topic := range []string{"kept/a", "other", "kept/b", "kept/a", "other"} {
		if err := j.Append(t.Context(), &journal.Event{Topics: []string{topic}, Data: []byte("x")}); err != nil {
			t.Fatalf("Append %s: %v", topic, err)
		}
	}
	err := j.Append(t.Context(), &journal.Event{Topics: []string{"kept/full"}, Data: []byte("x")})
	if !errors.Is(err, errViewFull) {
		t.Fatalf("Append with a failing view: %v, want %v", err, errViewFull)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, path, opts)
	got, last := readView(t, j, topicView{})
	want := map[string]uint64{"kept/a": 4, "kept/b": 3}
	if last != 5 || len(got) != len(want) || got["kept/a"] != 4 || got["kept/b"] != 3 {
		t.Fatalf("after reopen: view %v at %d, want %v at 5 (the failed commit stored nothing; retention kept the view)", got, last, want)
	}
}

// TestViewQueued: events queued in a row reach the view in their order.
func TestViewQueued(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "journal.db"), bolt.Options{Views: []bolt.View{topicView{}}})
	var waits []func() error
	for range 50 {
		w, err := j.Queue(t.Context(), &journal.Event{Topics: []string{"kept/x"}, Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	for _, w := range waits {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	if got, last := readView(t, j, topicView{}); got["kept/x"] != 50 || last != 50 {
		t.Fatalf("view %v at %d, want kept/x at 50", got, last)
	}
}

// TestViewNameClash: a view may not take the journal's own buckets.
func TestViewNameClash(t *testing.T) {
	_, err := bolt.Open(filepath.Join(t.TempDir(), "journal.db"), bolt.Options{Views: []bolt.View{namedView("events")}})
	if err == nil || !strings.Contains(err.Error(), "journal's own") {
		t.Fatalf("Open with a view named events: %v", err)
	}
}

type namedView string

func (v namedView) Name() []byte                            { return []byte(v) }
func (namedView) Apply(*bbolt.Bucket, *journal.Event) error { return nil }

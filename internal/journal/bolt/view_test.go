package bolt_test

import (
	"encoding/binary"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

// topicView keeps, per topic, the position of its newest event: the kind
// of view the state tree is, small enough to check by hand.
type topicView struct {
	// fail, while set, makes Apply fail for events of the topic it holds.
	fail *atomic.Pointer[string]
}

var errViewFull = errors.New("view full")

func (topicView) Name() []byte { return []byte("newest") }

func (v topicView) Apply(b *bbolt.Bucket, ev *journal.Event) error {
	if !strings.HasPrefix(ev.Topics[0], "kept/") {
		return nil
	}
	if v.fail != nil {
		if f := v.fail.Load(); f != nil && ev.Topics[0] == *f {
			return errViewFull
		}
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

// TestView: a view is updated with each event, survives a reopen and
// retention. A view that cannot write stops the journal from storing
// events in the file: appends are refused from then on, and the event
// already logged reaches the view once it can write again.
func TestView(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	fail := new(atomic.Pointer[string])
	opts := bolt.Options{Views: []bolt.View{topicView{fail: fail}}, Retention: journal.Retention{MaxEvents: 2}}
	j := open(t, path, opts)
	for _, topic := range []string{"kept/a", "other", "kept/b", "kept/a", "other"} {
		if err := j.Append(t.Context(), &journal.Event{Topics: []string{topic}, Data: []byte("x")}); err != nil {
			t.Fatalf("Append %s: %v", topic, err)
		}
	}
	full := "kept/full"
	fail.Store(&full)
	if err := j.Append(t.Context(), &journal.Event{Topics: []string{full}, Data: []byte("x")}); err != nil {
		t.Fatalf("Append logged before the view fails: %v", err)
	}
	refused := false
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); {
		err := j.Append(t.Context(), &journal.Event{Topics: []string{"other"}, Data: []byte("x")})
		refused = errors.Is(err, errViewFull)
		if err != nil && !refused {
			t.Fatalf("Append while the view fails: %v, want nil or %v", err, errViewFull)
		}
	}
	if !refused {
		t.Fatal("appends were not refused while the view could not write")
	}
	last, _ := j.Last(t.Context())
	fail.Store(nil)
	// The applier tries again by itself (every second).
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, l := readView(t, j, topicView{}); l == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the view did not catch up once it could write again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := j.Append(t.Context(), &journal.Event{Topics: []string{"kept/b"}, Data: []byte("x")}); err != nil {
		t.Fatalf("Append once the view writes again: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, path, opts)
	got, at := readView(t, j, topicView{})
	want := map[string]uint64{"kept/a": 4, "kept/full": 6, "kept/b": last + 1}
	if at != last+1 || !maps.Equal(got, want) {
		t.Fatalf("after reopen: view %v at %d, want %v at %d (retention kept the view)", got, at, want, last+1)
	}
}

// TestViewQueued: events queued in a row reach the view in their order.
func TestViewQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path, bolt.Options{Views: []bolt.View{topicView{}}})
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
	// The view trails the log; Open stores what the log holds first.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, path, bolt.Options{Views: []bolt.View{topicView{}}})
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

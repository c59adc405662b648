package jetstream_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

// queueKeyed queues ev with key on j and waits for it.
func queueKeyed(t *testing.T, j *jetstream.Journal, ev *journal.Event, key string, last *uint64) error {
	wait, err := j.QueueKeyed(t.Context(), ev, key, last)
	if err != nil {
		return err
	}
	return wait()
}

// TestKeyed: a key's last position is its newest event's, whichever node
// stored it; an event expecting another last position is refused and not
// stored; events of other keys and unkeyed ones do not move a key.
func TestKeyed(t *testing.T) {
	srv := natstest.Run(t)
	opts := newOptions(natstest.Connect(t, srv.URL()), 0)
	a := open(t, opts)
	opts.Conn = natstest.Connect(t, srv.URL())
	b := open(t, opts)
	ctx := t.Context()

	lastOf := func(j *jetstream.Journal, key string) uint64 {
		t.Helper()
		seq, err := j.LastOfKey(ctx, key)
		if err != nil {
			t.Fatalf("LastOfKey(%q): %v", key, err)
		}
		return seq
	}
	if got := lastOf(a, "k"); got != 0 {
		t.Fatalf("LastOfKey of a key without events = %d, want 0", got)
	}
	var none uint64
	first := &journal.Event{Topics: []string{"t"}, Data: []byte("1")}
	if err := queueKeyed(t, a, first, "k", &none); err != nil {
		t.Fatalf("first event of a key, expecting none: %v", err)
	}
	if err := a.Append(ctx, &journal.Event{Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if err := queueKeyed(t, b, &journal.Event{Topics: []string{"t"}}, "other", nil); err != nil {
		t.Fatal(err)
	}
	if got := lastOf(b, "k"); got != first.Seq {
		t.Fatalf("LastOfKey on the other node = %d, want %d", got, first.Seq)
	}
	stale := &journal.Event{Topics: []string{"t"}, Data: []byte("stale")}
	if err := queueKeyed(t, b, stale, "k", &none); !errors.Is(err, journal.ErrKeyMoved) {
		t.Fatalf("an event expecting no event of a key that has one: %v, want ErrKeyMoved", err)
	}
	second := &journal.Event{Topics: []string{"t"}, Data: []byte("2")}
	if err := queueKeyed(t, b, second, "k", &first.Seq); err != nil {
		t.Fatalf("an event expecting the key's last: %v", err)
	}
	if second.ID != journal.FormatID(b.Epoch(), second.Seq) {
		t.Fatalf("a keyed event's ID is %q, want a generated one", second.ID)
	}
	if err := queueKeyed(t, a, &journal.Event{Topics: []string{"t"}}, "k", &first.Seq); !errors.Is(err, journal.ErrKeyMoved) {
		t.Fatalf("an event expecting the key's previous last: %v, want ErrKeyMoved", err)
	}
	var read []string
	if err := a.Read(ctx, 0, func(ev *journal.Event) error {
		read = append(read, string(ev.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(read) != 4 || read[0] != "1" || read[3] != "2" {
		t.Fatalf("stored %q; the refused events must not be", read)
	}
	if _, err := a.QueueKeyed(ctx, &journal.Event{ID: "chosen", Topics: []string{"t"}}, "k", nil); err == nil {
		t.Fatal("QueueKeyed took an event with a publisher-chosen ID")
	}
}

// TestKeyedRace: of many nodes' writers that each read a key's last
// position and queue expecting it, one per position succeeds: every event
// stored names the one before it as the last it expected, so a counter
// incremented that way on two nodes loses no increment.
func TestKeyedRace(t *testing.T) {
	srv := natstest.Run(t)
	opts := newOptions(natstest.Connect(t, srv.URL()), 0)
	nodes := []*jetstream.Journal{open(t, opts)}
	opts.Conn = natstest.Connect(t, srv.URL())
	nodes = append(nodes, open(t, opts))
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		j := nodes[w%2]
		wg.Go(func() {
			for done := 0; done < each; {
				last, err := j.LastOfKey(t.Context(), "counter")
				if err != nil {
					errs <- err
					return
				}
				ev := &journal.Event{Topics: []string{"t"}, Data: strconv.AppendUint(nil, last, 10)}
				err = queueKeyed(t, j, ev, "counter", &last)
				switch {
				case err == nil:
					done++
				case !errors.Is(err, journal.ErrKeyMoved):
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var prev uint64
	n := 0
	if err := nodes[0].Read(t.Context(), 0, func(ev *journal.Event) error {
		if string(ev.Data) != strconv.FormatUint(prev, 10) {
			t.Errorf("event %d was stored expecting %s as the key's last, not %d", ev.Seq, ev.Data, prev)
		}
		prev = ev.Seq
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("%d events stored, want %d", n, writers*each)
	}
}

// TestFollowKeyed: a keyed follower delivers the keyed events of any
// key, appended by its node or another, in order, none of the others,
// and markers of how far it read, up to the newest position.
func TestFollowKeyed(t *testing.T) {
	srv := natstest.Run(t)
	opts := newOptions(natstest.Connect(t, srv.URL()), 0)
	j := open(t, opts)
	opts.Conn = natstest.Connect(t, srv.URL())
	other := open(t, opts)
	evs, err := j.FollowKeyed(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var keyed []uint64
	for i := range 30 {
		ev := &journal.Event{Topics: []string{"t"}, Data: []byte(strconv.Itoa(i))}
		if i%3 == 0 {
			if err := queueKeyed(t, []*jetstream.Journal{j, other}[i%2], ev, []string{"a", "b"}[i%2], nil); err != nil {
				t.Fatal(err)
			}
			keyed = append(keyed, ev.Seq)
		} else if err := j.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	last, err := j.Last(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	var at uint64
	for at < last {
		select {
		case ev := <-evs:
			if ev.Seq <= at {
				t.Fatalf("position %d after %d", ev.Seq, at)
			}
			at = ev.Seq
			if len(ev.Topics) > 0 {
				got = append(got, ev.Seq)
			} else if ev.ID != "" || ev.Data != nil {
				t.Fatalf("a marker with more than its position: %+v", ev)
			}
		case <-time.After(testutil.WaitTimeout):
			t.Fatalf("the keyed follower is at %d, not %d", at, last)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(keyed) {
		t.Fatalf("keyed events delivered at %v, want %v", got, keyed)
	}
}

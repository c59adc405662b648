package journaltest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// openPair opens a journal and a second handle on its storage, as two
// nodes would, or skips the test for a journal that only one process can
// open.
func openPair(t *testing.T, f Factory) (a, b journal.Journal) {
	t.Helper()
	if f.OpenPeer == nil {
		t.Skip("the journal has a single node")
	}
	a = f.Open(t, journal.Retention{})
	b = f.OpenPeer(t, a)
	if a.Epoch() != b.Epoch() {
		t.Fatalf("two nodes of one journal have epochs %q and %q", a.Epoch(), b.Epoch())
	}
	return a, b
}

// varied returns the i-th event of a kind that uses every field: some with
// a publisher-chosen ID, a type, a retry, private.
func varied(i int) *journal.Event {
	ev := event(i)
	if i%3 == 0 {
		ev.ID = fmt.Sprintf("pub-%d", i)
	}
	if i%2 == 0 {
		ev.Type = "book.updated"
		ev.Topics = append(ev.Topics, "urn:isbn:9780")
	}
	ev.Retry = time.Duration(i) * time.Millisecond
	ev.Private = i%4 == 0
	return ev
}

// testPeerFollowRead: what one node appends, another follows, reads and
// looks up, with the same positions, IDs and fields; and the other way
// round.
func testPeerFollowRead(t *testing.T, f Factory) {
	a, b := openPair(t, f)
	fromB := follow(t, b, 0)
	var evs []*journal.Event
	for i := range 10 {
		evs = append(evs, appendEvent(t, a, varied(i)))
	}
	var got []*journal.Event
	for range evs {
		got = append(got, receive(t, fromB))
	}
	checkEvents(t, "Follow on the other node", got, evs)
	checkEvents(t, "Read on the other node", readAll(t, b, 0), evs)
	for _, ev := range evs {
		if seq, err := b.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
			t.Fatalf("Lookup(%q) on the other node = %d, %v; want %d", ev.ID, seq, err, ev.Seq)
		}
	}

	fromA := follow(t, a, last(t, a))
	var more []*journal.Event
	for i := range 3 {
		more = append(more, appendEvent(t, b, varied(10+i)))
	}
	checkEvents(t, "Follow of the other node's appends", []*journal.Event{receive(t, fromA), receive(t, fromA), receive(t, fromA)}, more)
	checkEvents(t, "Follow of its own appends", []*journal.Event{receive(t, fromB), receive(t, fromB), receive(t, fromB)}, more)
}

// errFound stops a read once the wanted event was seen.
var errFound = errors.New("found")

// testPeerReadAfterFollow: as soon as a follower on one node has
// delivered an event, a Read on another returns it and a Lookup there
// resolves its ID — a subscriber may resume on any node from what any
// node sent it.
func testPeerReadAfterFollow(t *testing.T, f Factory) {
	a, b := openPair(t, f)
	const n = 200
	fromB := follow(t, b, 0)
	appended := make(chan error, 1)
	go func() {
		_, err := appendFrom(a, 0, n, 4)
		appended <- err
	}()
	for range n {
		ev := receive(t, fromB)
		var read *journal.Event
		err := a.Read(t.Context(), ev.Seq-1, func(got *journal.Event) error {
			read = got
			return errFound
		})
		if !errors.Is(err, errFound) || read.Seq != ev.Seq {
			t.Fatalf("Read(after %d) on node A, once node B followed event %d: first event %v, err %v", ev.Seq-1, ev.Seq, read, err)
		}
		if seq, err := a.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
			t.Fatalf("Lookup(%q) on node A, once node B followed it: %d, %v", ev.ID, seq, err)
		}
	}
	if err := <-appended; err != nil {
		t.Fatalf("Append: %v", err)
	}
}

// testPeerConcurrentAppends: two nodes appending at once make one order,
// which followers on both see, and in which each append sits where its
// node said.
func testPeerConcurrentAppends(t *testing.T, f Factory) {
	a, b := openPair(t, f)
	const n = 300
	fromA, fromB := follow(t, a, 0), follow(t, b, 0)
	var byA, byB []*journal.Event
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { byA, errA = appendFrom(a, 0, n, 4) })
	wg.Go(func() { byB, errB = appendFrom(b, n, n, 4) })
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatalf("Append: %v", err)
	}

	want := make([]*journal.Event, 2*n)
	for _, ev := range append(byA, byB...) {
		if ev.Seq < 1 || ev.Seq > 2*n || want[ev.Seq-1] != nil {
			t.Fatalf("Append gave event %s Seq %d, out of 1..%d or given twice", ev.Data, ev.Seq, 2*n)
		}
		want[ev.Seq-1] = ev
	}
	for _, node := range []struct {
		name string
		ch   <-chan *journal.Event
	}{{"A", fromA}, {"B", fromB}} {
		got := make([]*journal.Event, 0, 2*n)
		for range 2 * n {
			got = append(got, receive(t, node.ch))
		}
		checkEvents(t, "Follow on node "+node.name, got, want)
	}
}

// testPeerDuplicateID: a publisher-chosen ID that one node stored is
// taken on every node, and of two nodes appending one ID at once, one
// stores it.
func testPeerDuplicateID(t *testing.T, f Factory) {
	a, b := openPair(t, f)
	first := appendEvent(t, a, &journal.Event{ID: "taken", Topics: []string{"t"}})
	if err := b.Append(t.Context(), &journal.Event{ID: "taken", Topics: []string{"t"}}); !errors.Is(err, journal.ErrDuplicateID) {
		t.Fatalf("Append on node B of an ID node A stored: %v, want ErrDuplicateID", err)
	}
	if seq, err := b.Lookup(t.Context(), "taken"); err != nil || seq != first.Seq {
		t.Fatalf("Lookup on node B = %d, %v; want %d", seq, err, first.Seq)
	}

	const each = 8
	errs := make([]error, 2*each)
	var wg sync.WaitGroup
	for i := range errs {
		j := a
		if i%2 == 1 {
			j = b
		}
		wg.Go(func() { errs[i] = j.Append(t.Context(), &journal.Event{ID: "raced", Topics: []string{"t"}}) })
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
	if stored != 1 {
		t.Fatalf("%d of %d appends of one ID on two nodes succeeded, want 1", stored, len(errs))
	}
}

package state_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// open returns a store on a memory journal, closed when the test ends.
func open(t *testing.T, j journal.Journal) *state.Store {
	t.Helper()
	s, err := state.Open(state.Config{Journal: j}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func parse(t *testing.T, js string) *tree.Node {
	t.Helper()
	n, err := tree.Parse([]byte(js), tree.Limits{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", js, err)
	}
	return n
}

func jsonOf(n *tree.Node) string { return string(n.AppendJSON(nil, tree.Format{})) }

func path(keys ...string) tree.Path { return tree.Path(keys) }

// TestWriteRead: a write is visible to reads when Write returns, and is
// an event in the journal with its topics.
func TestWriteRead(t *testing.T) {
	j := journal.NewMemory(journal.Retention{})
	s := open(t, j)
	res, err := s.Write(t.Context(), state.Write{NS: "db", Kind: state.Put, Path: path("a", "b"), Value: parse(t, `{"c":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if got := jsonOf(snap.Get("db", path("a"))); got != `{"b":{"c":1}}` || snap.Seq != res.Seq {
		t.Fatalf("after the write: /a = %s at %d, want {\"b\":{\"c\":1}} at %d", got, snap.Seq, res.Seq)
	}
	var evs []*journal.Event
	_ = j.Read(t.Context(), 0, func(ev *journal.Event) error { evs = append(evs, ev); return nil })
	if len(evs) != 1 || evs[0].Type != "put" || !evs[0].Private || string(evs[0].Data) != `{"path":"/a/b","data":{"c":1}}` {
		t.Fatalf("journal holds %+v", evs)
	}
	want := []string{state.LocationTopic("db", path("a", "b")), state.SubtreeTopic("db", path("a", "b")), state.SubtreeTopic("db", path("a")), state.SubtreeTopic("db", nil)}
	if fmt.Sprint(evs[0].Topics) != fmt.Sprint(want) {
		t.Fatalf("topics %v, want %v", evs[0].Topics, want)
	}
	ns, op, err := state.DecodeEvent(evs[0], tree.Limits{})
	if err != nil || ns != "db" || op.Path.String() != "/a/b" {
		t.Fatalf("DecodeEvent: %q %+v %v", ns, op, err)
	}
}

// TestIncrementUnderContention: increments computed by concurrent writers
// each see every write before them: none is lost.
func TestIncrementUnderContention(t *testing.T) {
	s := open(t, journal.NewMemory(journal.Retention{}))
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.Write(t.Context(), state.Write{NS: "db", Kind: state.Put, Path: path("n"), Value: parse(t, `{".sv":{"increment":1}}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := jsonOf(s.Snapshot().Get("db", path("n"))); got != fmt.Sprint(writers*each) {
		t.Fatalf("n = %s, want %d", got, writers*each)
	}
}

// TestIfMatch: a condition is decided against the newest value, and a
// failed one answers it with its ETag and writes nothing.
func TestIfMatch(t *testing.T) {
	s := open(t, journal.NewMemory(journal.Retention{}))
	absent := (*tree.Node)(nil).ETag()
	if _, err := s.Write(t.Context(), state.Write{NS: "db", Path: path("x"), Value: parse(t, `1`), IfMatch: absent}); err != nil {
		t.Fatalf("create-if-absent: %v", err)
	}
	_, err := s.Write(t.Context(), state.Write{NS: "db", Path: path("x"), Value: parse(t, `2`), IfMatch: absent})
	var cond *state.ConditionError
	if !errors.As(err, &cond) || jsonOf(cond.Value) != "1" || cond.ETag != parse(t, "1").ETag() {
		t.Fatalf("stale if-match: %v", err)
	}
	if _, err := s.Write(t.Context(), state.Write{NS: "db", Path: path("x"), Value: parse(t, `3`), IfMatch: cond.ETag}); err != nil {
		t.Fatalf("fresh if-match: %v", err)
	}
	if got := jsonOf(s.Snapshot().Get("db", path("x"))); got != "3" {
		t.Fatalf("x = %s, want 3", got)
	}
}

// TestPushIDsSort: keys of pushes sort in the order made, even within a
// millisecond.
func TestPushIDsSort(t *testing.T) {
	fixed := time.UnixMilli(1_700_000_000_000)
	s, err := state.Open(state.Config{Journal: journal.NewMemory(journal.Retention{}), Now: func() time.Time { return fixed }}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var last string
	for i := range 200 {
		res, err := s.Write(t.Context(), state.Write{NS: "db", Kind: state.Push, Path: path("list"), Value: parse(t, fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		key := res.Path[len(res.Path)-1]
		if len(key) != 20 || key <= last || tree.ValidKey(key) != nil {
			t.Fatalf("push %d: key %q after %q", i, key, last)
		}
		last = key
	}
}

// failing is a journal whose appends fail while fail is set.
type failing struct {
	*journal.Memory
	mu   sync.Mutex
	fail bool
}

func (f *failing) Queue(ctx context.Context, ev *journal.Event) (func() error, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return func() error { return errors.New("disk full") }, nil
	}
	return f.Memory.Queue(ctx, ev)
}

// TestFailedAppend: a write the journal refuses is not visible, and
// the writes after it are computed without it.
func TestFailedAppend(t *testing.T) {
	j := &failing{Memory: journal.NewMemory(journal.Retention{})}
	s := open(t, j)
	inc := parse(t, `{".sv":{"increment":1}}`)
	write := func() error {
		_, err := s.Write(t.Context(), state.Write{NS: "db", Path: path("n"), Value: inc})
		return err
	}
	if err := write(); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.fail = true
	j.mu.Unlock()
	if err := write(); err == nil {
		t.Fatal("a write the journal refused succeeded")
	}
	j.mu.Lock()
	j.fail = false
	j.mu.Unlock()
	if err := write(); err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(s.Snapshot().Get("db", path("n"))); got != "2" {
		t.Fatalf("n = %s, want 2 (the refused increment left out)", got)
	}
}

// TestNamespaces: databases are apart, and their number is bounded.
func TestNamespaces(t *testing.T) {
	s, err := state.Open(state.Config{Journal: journal.NewMemory(journal.Retention{}), MaxNamespaces: 2}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ns := range []string{"a", "b"} {
		if _, err := s.Write(t.Context(), state.Write{NS: ns, Path: path("k"), Value: parse(t, `"`+ns+`"`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Write(t.Context(), state.Write{NS: "c", Path: path("k"), Value: parse(t, `1`)}); !errors.Is(err, state.ErrTooManyNamespaces) {
		t.Fatalf("a third database: %v", err)
	}
	if got := jsonOf(s.Snapshot().Get("a", path("k"))); got != `"a"` {
		t.Fatalf("a/k = %s", got)
	}
}

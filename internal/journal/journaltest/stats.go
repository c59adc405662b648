package journaltest

import (
	"testing"

	"github.com/heraldhub/herald/internal/journal"
)

// testStats: a journal that reports what it holds ([journal.StatsReporter])
// counts the retained events and dates the oldest, under retention by
// count and without retention, across a reopen, and reports nothing once
// closed.
func testStats(t *testing.T, f Factory) {
	check := func(t *testing.T, j journal.Journal, want []*journal.Event) {
		t.Helper()
		st := j.(journal.StatsReporter).Stats()
		if st.Events != uint64(len(want)) {
			t.Fatalf("Stats().Events = %d, want %d", st.Events, len(want))
		}
		if len(want) == 0 {
			if !st.Oldest.IsZero() {
				t.Fatalf("Stats().Oldest = %v with no event", st.Oldest)
			}
			return
		}
		if !st.Oldest.Equal(want[0].Time) {
			t.Fatalf("Stats().Oldest = %v, want the oldest retained event's time %v", st.Oldest, want[0].Time)
		}
	}
	for _, ret := range []journal.Retention{{}, {MaxEvents: 3}} {
		j := f.Open(t, ret)
		if _, ok := j.(journal.StatsReporter); !ok {
			t.Skip("the journal does not report stats")
		}
		check(t, j, nil)
		evs := appendSeq(t, j, 5)
		want := evs
		if ret.MaxEvents > 0 {
			want = evs[len(evs)-ret.MaxEvents:]
		}
		check(t, j, want)
		if f.Reopen != nil {
			j = f.Reopen(t, j)
			check(t, j, want)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, j, nil)
	}
}

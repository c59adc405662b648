package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
)

// openHeld opens a new journal, and returns it with its path, whose
// applier stores nothing until Close (or the test's end): every event
// appended stays in the log only.
func openHeld(t *testing.T, opts Options) (*Journal, string) {
	t.Helper()
	saved := applyInterval
	applyInterval = time.Hour
	t.Cleanup(func() { applyInterval = saved })
	path := filepath.Join(t.TempDir(), "j.db")
	return openTest(t, path, opts), path
}

func openTest(t *testing.T, path string, opts Options) *Journal {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	j, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// appendN appends n events with IDs prefix0, prefix1, ... and data of
// size bytes, and returns their positions.
func appendN(t *testing.T, j *Journal, prefix string, n, size int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := range n {
		ev := &journal.Event{ID: fmt.Sprintf("%s%d", prefix, i), Topics: []string{"t"}, Data: make([]byte, size)}
		if err := j.Append(t.Context(), ev); err != nil {
			t.Fatalf("Append %s: %v", ev.ID, err)
		}
		seqs = append(seqs, ev.Seq)
	}
	return seqs
}

// readIDs returns the IDs of every event Read delivers, in order, and
// checks their positions follow one another from first.
func readIDs(t *testing.T, j *Journal, first uint64) []string {
	t.Helper()
	var ids []string
	want := first
	if err := j.Read(t.Context(), 0, func(ev *journal.Event) error {
		if ev.Seq != want {
			return fmt.Errorf("event %s at %d, want %d", ev.ID, ev.Seq, want)
		}
		want++
		ids = append(ids, ev.ID)
		return nil
	}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return ids
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// copyJournal copies j's log and file to dir: what a machine that
// stopped now would hold (nothing is left unsynced after an
// acknowledgement). No append may run meanwhile; the applier may: the
// file is copied in a read transaction, after the log, which holds every
// event the file might not.
func copyJournal(t *testing.T, j *Journal, dir string) string {
	t.Helper()
	to := filepath.Join(dir, filepath.Base(j.path))
	for _, p := range walPaths(j.path) {
		src, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(to + p[len(j.path):])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		dst.Close()
	}
	if err := j.db.View(func(tx *bbolt.Tx) error { return tx.CopyFile(to, 0o600) }); err != nil {
		t.Fatal(err)
	}
	return to
}

// Events in the log and not yet in the file are read, followed, looked up
// and refused as duplicates as those in the file are.
func TestLoggedEventsServed(t *testing.T) {
	j, path := openHeld(t, Options{})
	seqs := appendN(t, j, "p", 20, 100)
	if got := j.applier.applied.Load(); got != 0 {
		t.Fatalf("the applier stored up to %d while held", got)
	}
	if st := j.Stats(); st.Events != 20 || st.Pending != 20 {
		t.Errorf("Stats = %+v, want 20 events, all 20 pending", st)
	}
	if got := readIDs(t, j, 1); !slices.Equal(got, names("p", 20)) {
		t.Fatalf("Read = %v", got)
	}
	ctx := t.Context()
	for i, id := range []string{"p3", journal.FormatID(j.Epoch(), seqs[7])} {
		if seq, err := j.Lookup(ctx, id); err != nil || seq != seqs[[]int{3, 7}[i]] {
			t.Errorf("Lookup(%s) = %d, %v", id, seq, err)
		}
	}
	if err := j.Append(ctx, &journal.Event{ID: "p5", Topics: []string{"t"}}); !errors.Is(err, journal.ErrDuplicateID) {
		t.Errorf("Append of a logged ID: %v, want ErrDuplicateID", err)
	}
	// Two of one ID in one batch: the second is refused.
	var waits []func() error
	for range 2 {
		w, err := j.Queue(ctx, &journal.Event{ID: "twice", Topics: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if err0, err1 := waits[0](), waits[1](); err0 != nil || !errors.Is(err1, journal.ErrDuplicateID) {
		t.Errorf("an ID queued twice: %v, %v; want nil, ErrDuplicateID", err0, err1)
	}
	feed, err := j.Follow(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 21; want++ {
		select {
		case ev := <-feed:
			if ev.Seq != want {
				t.Fatalf("Follow delivered %d, want %d", ev.Seq, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Follow: no event %d", want)
		}
	}

	// Close stores the log in the file; the file alone then has it all.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range walPaths(path) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	j = openTest(t, path, Options{})
	if got := readIDs(t, j, 1); !slices.Equal(got, append(names("p", 20), "twice")) {
		t.Fatalf("after Close, the file holds %v", got)
	}
	if st := j.Stats(); st.Pending != 0 {
		t.Errorf("after Close, Stats = %+v, want nothing pending", st)
	}
	if seq, err := j.Lookup(ctx, "p3"); err != nil || seq != seqs[3] {
		t.Errorf("Lookup(p3) from the file = %d, %v", seq, err)
	}
}

// A machine that stops holds the events acknowledged in the log; Open
// stores them in the file, and the journal goes on from there.
func TestLogReplayed(t *testing.T) {
	j, _ := openHeld(t, Options{})
	appendN(t, j, "a", 10, 300)
	crashed := copyJournal(t, j, t.TempDir())

	k := openTest(t, crashed, Options{})
	if k.applier.applied.Load() != 10 {
		t.Fatalf("Open stored up to %d of the log, want 10", k.applier.applied.Load())
	}
	if got := readIDs(t, k, 1); !slices.Equal(got, names("a", 10)) {
		t.Fatalf("after the replay: %v", got)
	}
	if seq, err := k.Lookup(t.Context(), "a9"); err != nil || seq != 10 {
		t.Errorf("Lookup(a9) after the replay = %d, %v", seq, err)
	}
	// A second crash, after more appends in the new lap.
	appendN(t, k, "b", 5, 300)
	again := copyJournal(t, k, t.TempDir())
	m := openTest(t, again, Options{})
	if got := readIDs(t, m, 1); !slices.Equal(got, append(names("a", 10), names("b", 5)...)) {
		t.Fatalf("after the second replay: %v", got)
	}
}

// A record torn by a crash ends the log: neither it nor anything after it
// is replayed, whole or not.
func TestLogTornRecord(t *testing.T) {
	j, path := openHeld(t, Options{})
	appendN(t, j, "a", 10, 300)
	s := j.wal.segs[j.wal.active]
	frame := int64(walFrameHeader + len(encodeEvent(&journal.Event{ID: "a0", Topics: []string{"t"}, Data: make([]byte, 300)})))
	if s.off != walHeaderSize+10*frame {
		t.Fatalf("the segment ends at %d, want 10 records of %d bytes", s.off, frame)
	}
	crashed := copyJournal(t, j, t.TempDir())
	seg := crashed + walPaths(path)[j.wal.active][len(path):]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of the seventh record's data flipped.
	if _, err := f.WriteAt([]byte{0xff}, walHeaderSize+6*frame+frame-1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	k := openTest(t, crashed, Options{})
	if got := readIDs(t, k, 1); !slices.Equal(got, names("a", 6)) {
		t.Fatalf("after a torn seventh record: %v, want a0-a5", got)
	}
	// The journal goes on at position 7, in a new lap: the records of
	// the old one beyond the tear never come back.
	appendN(t, k, "b", 1, 300)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	m := openTest(t, crashed, Options{})
	if got := readIDs(t, m, 1); !slices.Equal(got, append(names("a", 6), "b0")) {
		t.Fatalf("after more appends: %v", got)
	}
}

// What a failed write left in the log is never replayed: the next write
// covers it with zeros.
func TestLogFailedWriteCovered(t *testing.T) {
	j, path := openHeld(t, Options{})
	appendN(t, j, "a", 3, 300)
	// A write of two records that landed, though its publishers were
	// told it failed.
	s := j.wal.segs[j.wal.active]
	var frames []byte
	for i, seq := range []uint64{4, 5} {
		rec := encodeEvent(&journal.Event{ID: fmt.Sprintf("refused%d", i), Topics: []string{"t"}, Data: make([]byte, 300)})
		frames = appendFrame(frames, s.lap, seq, rec)
	}
	if _, err := s.f.WriteAt(frames, s.off); err != nil {
		t.Fatal(err)
	}
	s.dirty = s.off + int64(len(frames))
	// The next append, of the same size, lands on the first.
	appendN(t, j, "b", 1, 300+len("refused0")-len("b0"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	k := openTest(t, path, Options{})
	if got := readIDs(t, k, 1); !slices.Equal(got, append(names("a", 3), "b0")) {
		t.Fatalf("after a failed write and a good one: %v, want a0-a2 b0", got)
	}
}

// The log moves between its two segments as the applier frees them, and
// a stop at any point replays what each holds in order.
func TestLogSegments(t *testing.T) {
	saved := walSegmentSize
	walSegmentSize = 16 << 10
	t.Cleanup(func() { walSegmentSize = saved })
	path := filepath.Join(t.TempDir(), "j.db")
	j := openTest(t, path, Options{})
	var want []string
	for round := range 6 {
		prefix := fmt.Sprintf("r%d-", round)
		appendN(t, j, prefix, 40, 500)
		want = append(want, names(prefix, 40)...)
		k := openTest(t, copyJournal(t, j, t.TempDir()), Options{})
		if got := readIDs(t, k, 1); !slices.Equal(got, want) {
			t.Fatalf("round %d: a stop replays %d events, want %d", round, len(got), len(want))
		}
	}
	laps := j.wal.segs[0].lap + j.wal.segs[1].lap
	if laps < 6 {
		t.Errorf("the segments went %d laps in all; 240 records of 500 bytes in 16 KiB segments take more", laps)
	}
	for _, p := range walPaths(path) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > walSegmentMax*walSegmentSize+walGrow {
			t.Errorf("%s grew to %d bytes", p, fi.Size())
		}
	}
}

// A log left by another journal's file is not replayed into this one.
func TestLogOfAnotherJournal(t *testing.T) {
	j, _ := openHeld(t, Options{})
	appendN(t, j, "a", 3, 10)
	crashed := copyJournal(t, j, t.TempDir())
	if err := os.Remove(crashed); err != nil {
		t.Fatal(err)
	}
	k := openTest(t, crashed, Options{})
	if last, _ := k.Last(context.Background()); last != 0 {
		t.Fatalf("a new file with another journal's log holds %d events", last)
	}
}

// An ID freed by retention by count is taken again before the applier
// removed its first event: the removal leaves the new event's ID alone.
func TestIDReusedBeforeTrim(t *testing.T) {
	opts := Options{Retention: journal.Retention{MaxEvents: 2}}
	j, path := openHeld(t, opts)
	appendN(t, j, "x", 1, 10)
	appendN(t, j, "y", 2, 10)
	if seqs := appendN(t, j, "x", 1, 10); seqs[0] != 4 {
		t.Fatalf("x taken again at %d, want 4", seqs[0])
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	k := openTest(t, path, opts)
	if seq, err := k.Lookup(t.Context(), "x0"); err != nil || seq != 4 {
		t.Fatalf("Lookup(x0) after the first x0 was removed = %d, %v; want 4", seq, err)
	}
}

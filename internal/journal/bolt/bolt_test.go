package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/journal/journaltest"
)

// open opens the journal at path, closing it when the test ends.
func open(t *testing.T, path string, opts bolt.Options) *bolt.Journal {
	t.Helper()
	j, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestConformance(t *testing.T) {
	// The retention each journal was opened with, for Reopen.
	var mu sync.Mutex
	retention := make(map[string]journal.Retention)
	journaltest.Run(t, journaltest.Factory{
		Open: func(t *testing.T, ret journal.Retention) journal.Journal {
			path := filepath.Join(t.TempDir(), "journal.db")
			mu.Lock()
			retention[path] = ret
			mu.Unlock()
			return open(t, path, bolt.Options{Retention: ret})
		},
		Reopen: func(t *testing.T, j journal.Journal) journal.Journal {
			path := j.(*bolt.Journal).Path()
			if err := j.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			mu.Lock()
			ret := retention[path]
			mu.Unlock()
			return open(t, path, bolt.Options{Retention: ret})
		},
	})
}

func TestEpochPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	before := time.Now()
	j := open(t, path, bolt.Options{})
	epoch, created := j.Epoch(), j.Created()
	if created.Before(before.Add(-time.Second)) || created.After(time.Now()) {
		t.Fatalf("Created = %v for a file created at %v", created, before)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, path, bolt.Options{})
	if j.Epoch() != epoch || !j.Created().Equal(created) {
		t.Fatalf("after reopen: epoch %q created %v; want %q, %v", j.Epoch(), j.Created(), epoch, created)
	}
}

func TestNewFileNewEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path, bolt.Options{})
	ev := &journal.Event{Topics: []string{"t"}}
	if err := j.Append(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	epoch := j.Epoch()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	j = open(t, path, bolt.Options{})
	if j.Epoch() == epoch {
		t.Fatalf("a new file kept the old epoch %q", epoch)
	}
	if err := j.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	// Position 1 exists again, but the old ID names the old file's event.
	if seq, err := j.Lookup(t.Context(), ev.ID); !errors.Is(err, journal.ErrUnknownID) {
		t.Fatalf("Lookup(%q) in a new file = %d, %v; want ErrUnknownID", ev.ID, seq, err)
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	open(t, path, bolt.Options{})
	start := time.Now()
	j, err := bolt.Open(path, bolt.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		j.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("second Open took %v to fail", waited)
	}
}

func TestNotAJournal(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	foreignBolt := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreignBolt, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("somebody-else"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + i>>8)
	}
	for name, path := range map[string]string{
		"text":           write("notes.txt", []byte("this is not a database\n")),
		"garbage":        write("garbage.db", garbage),
		"other bbolt db": foreignBolt,
		"damaged meta":   damagedJournal(t, dir),
	} {
		j, err := bolt.Open(path, bolt.Options{})
		if err == nil {
			j.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if !errors.Is(err, bolt.ErrNotJournal) {
			t.Errorf("%s: Open: %v, want ErrNotJournal", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// damagedJournal writes a journal and then overwrites both of bbolt's meta
// pages, as a torn write or a stray tool might.
func damagedJournal(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "damaged.db")
	j, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := os.Getpagesize()
	junk := make([]byte, 64)
	for i := range junk {
		junk[i] = 0xAB
	}
	for _, off := range []int64{16, int64(page) + 16} {
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestUnsupportedFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte{99})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if j, err := bolt.Open(path, bolt.Options{}); err == nil {
		j.Close()
		t.Fatal("Open of a journal in format 99 succeeded")
	}
}

func TestRetentionLoweredOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path, bolt.Options{NoSync: true})
	const n = 3008 // several trim budgets' worth, a multiple of 16
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range n / 16 {
				if err := j.Append(context.Background(), &journal.Event{Topics: []string{"t"}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = open(t, path, bolt.Options{Retention: journal.Retention{MaxEvents: 10}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var seqs []uint64
		err := j.Read(t.Context(), 0, func(ev *journal.Event) error {
			seqs = append(seqs, ev.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seqs) == 10 && seqs[0] == n-9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention lowered to 10 events still keeps %d (first %d)", len(seqs), seqs[0])
		}
		time.Sleep(time.Millisecond)
	}
	if seq, err := j.Lookup(t.Context(), journal.FormatID(j.Epoch(), n-10)); !errors.Is(err, journal.ErrUnknownID) {
		t.Fatalf("Lookup of a trimmed event = %d, %v; want ErrUnknownID", seq, err)
	}
	ev := &journal.Event{Topics: []string{"t"}}
	if err := j.Append(t.Context(), ev); err != nil || ev.Seq != n+1 {
		t.Fatalf("Append after the trim: Seq %d, %v; want %d", ev.Seq, err, n+1)
	}
}

// An append whose caller gave up while it waited in a batch is not stored.
func TestCanceledAppendNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The committer lingers until a second event fills the batch, so
		// the first is still uncommitted when its context ends.
		j := open(t, filepath.Join(t.TempDir(), "journal.db"), bolt.Options{MaxBatch: 2, MaxBatchDelay: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- j.Append(ctx, &journal.Event{ID: "abandoned", Topics: []string{"t"}}) }()
		// Once every goroutine is blocked, the Append has queued its event
		// and waits for the commit.
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled Append: %v, want context.Canceled", err)
		}
		kept := &journal.Event{ID: "kept", Topics: []string{"t"}}
		if err := j.Append(t.Context(), kept); err != nil {
			t.Fatal(err)
		}
		if kept.Seq != 1 {
			t.Fatalf("Seq of the event after an abandoned one = %d, want 1", kept.Seq)
		}
		if _, err := j.Lookup(t.Context(), "abandoned"); !errors.Is(err, journal.ErrUnknownID) {
			t.Fatalf("Lookup of the abandoned event: %v, want ErrUnknownID", err)
		}
	})
}

// A follower never sees an event before Read and Lookup do: bbolt shows a
// commit to new readers while its meta page is still being synced, and an
// event fanned out in that window would be missing from the replay of a
// subscriber resuming at that moment.
func TestFollowNeverAheadOfLast(t *testing.T) {
	j, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	feed, err := j.Follow(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_ = j.Append(ctx, &journal.Event{Topics: []string{"t"}, Data: []byte("x")})
			}
		}()
	}
	seen := 0
	for ev := range feed {
		last, err := j.Last(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq > last {
			t.Fatalf("follower got seq %d while Last() = %d", ev.Seq, last)
		}
		seen++
	}
	wg.Wait()
	if seen == 0 {
		t.Fatal("the follower saw no event")
	}
}

// A record that cannot be decoded is skipped, with a log, by Read and
// Follow: one damaged event must not stall every reader behind it.
func TestUndecodableRecordSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, path, bolt.Options{})
	for range 3 {
		if err := j.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("events")).Put(binary.BigEndian.AppendUint64(nil, 2), []byte("garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var logged bytes.Buffer
	j = open(t, path, bolt.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	var read []uint64
	if err := j.Read(t.Context(), 0, func(ev *journal.Event) error {
		read = append(read, ev.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(read, []uint64{1, 3}) {
		t.Fatalf("Read past a damaged record delivered Seq %v, want [1 3]", read)
	}
	ch, err := j.Follow(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{1, 3} {
		select {
		case ev := <-ch:
			if ev == nil || ev.Seq != want {
				t.Fatalf("Follow past a damaged record delivered %v, want Seq %d", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Follow past a damaged record: no Seq %d", want)
		}
	}
	if !strings.Contains(logged.String(), "seq=2") {
		t.Fatalf("skipping the damaged record logged %q, want a line naming seq=2", logged.String())
	}
}

// TestRecentEventsAsTheFile checks the cache of recent events against the
// file: what Read returns while the events are cached (the newest 4,096)
// equals what a reopened journal, which reads them from the file, returns,
// field by field, with retention dropping the oldest meanwhile.
func TestRecentEventsAsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	opts := bolt.Options{Retention: journal.Retention{MaxEvents: 6000}}
	j := open(t, path, opts)
	for i := range 7000 {
		ev := &journal.Event{Topics: []string{"https://example.com/" + strconv.Itoa(i%7)}, Data: []byte(strings.Repeat("d", i%300)), Type: "t" + strconv.Itoa(i%3), Private: i%5 == 0}
		if i%4 == 0 {
			ev.ID = "id-" + strconv.Itoa(i)
		}
		if i%9 == 0 {
			ev.Retry = time.Duration(i) * time.Millisecond
		}
		if err := j.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(j *bolt.Journal, after uint64) []*journal.Event {
		var evs []*journal.Event
		if err := j.Read(t.Context(), after, func(ev *journal.Event) error {
			evs = append(evs, ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	cached := map[uint64][]*journal.Event{}
	for _, after := range []uint64{0, 999, 2904, 2905, 5000, 6999, 7000} {
		cached[after] = readAll(j, after)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, path, opts)
	for after, got := range cached {
		want := readAll(j, after)
		if len(got) != len(want) {
			t.Fatalf("Read after %d: %d events, from the file %d", after, len(got), len(want))
		}
		for i := range got {
			g, w := *got[i], *want[i]
			if g.Seq != w.Seq || g.ID != w.ID || g.Type != w.Type || !slices.Equal(g.Topics, w.Topics) ||
				!bytes.Equal(g.Data, w.Data) || g.Retry != w.Retry || g.Private != w.Private || !g.Time.Equal(w.Time) {
				t.Fatalf("Read after %d, event %d: %+v, from the file %+v", after, i, g, w)
			}
		}
	}
}

package journaltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// testReadPositions: Read starts right after any position, including batch
// boundaries of typical implementations, and delivers every later event in
// order.
func testReadPositions(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	const n = 1500
	evs := appendConcurrently(t, j, n, 16)
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("concurrent appends: event #%d has Seq %d, want %d", i, ev.Seq, i+1)
		}
	}
	for _, after := range []uint64{0, 1, 2, 255, 256, 511, 512, 513, 1000, 1024, 1025, n - 1, n, n + 1, n + 100} {
		want := evs[min(after, n):]
		checkEvents(t, "Read", readAll(t, j, after), want)
	}
}

// testReadEmpty: reading an empty journal calls nothing.
func testReadEmpty(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	if got := readAll(t, j, 0); len(got) != 0 {
		t.Fatalf("Read of an empty journal delivered %d events", len(got))
	}
}

// testReadStops: an error from fn, or the end of ctx, stops Read.
func testReadStops(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	appendConcurrently(t, j, 700, 8)

	stop := errors.New("stop here")
	calls := 0
	err := j.Read(t.Context(), 0, func(*journal.Event) error {
		calls++
		if calls == 600 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 600 {
		t.Fatalf("Read with fn failing at call 600: %v after %d calls", err, calls)
	}

	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	err = j.Read(ctx, 0, func(*journal.Event) error {
		calls++
		if calls == 10 {
			cancel()
		}
		return nil
	})
	// Implementations check ctx between batches, so a few more events may
	// be delivered after the cancel, but not the whole journal.
	if !errors.Is(err, context.Canceled) || calls == 700 {
		t.Fatalf("Read canceled at call 10: %v after %d calls", err, calls)
	}
}

// testReadReentrant: fn may call the journal, Append included, without
// deadlocking Read.
func testReadReentrant(t *testing.T, f Factory) {
	j := f.Open(t, journal.Retention{})
	evs := appendConcurrently(t, j, 600, 8)
	done := make(chan []*journal.Event, 1)
	errc := make(chan error, 1)
	go func() {
		var got []*journal.Event
		err := j.Read(context.Background(), 0, func(ev *journal.Event) error {
			got = append(got, ev)
			if ev.Seq%100 != 0 {
				return nil
			}
			if _, err := j.Lookup(context.Background(), ev.ID); err != nil {
				return err
			}
			return j.Append(context.Background(), event(int(ev.Seq)))
		})
		if err != nil {
			errc <- err
		}
		done <- got
	}()
	select {
	case err := <-errc:
		t.Fatalf("Read: %v", err)
	case got := <-done:
		// Events appended by fn may or may not be delivered; the ones
		// stored before Read began must be, in order.
		if len(got) < len(evs) {
			t.Fatalf("Read delivered %d events, want at least %d", len(got), len(evs))
		}
		checkEvents(t, "Read", got[:len(evs)], evs)
		for i := len(evs); i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 {
				t.Fatalf("Read delivered Seq %d after %d", got[i].Seq, got[i-1].Seq)
			}
		}
	case <-time.After(waitLimit):
		t.Fatalf("Read whose fn calls Append and Lookup did not return within %v", waitLimit)
	}
}

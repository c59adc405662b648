package jetstream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

// TestCloseLeavesNothing: a journal that made its own connection leaves
// no goroutine behind once closed, followers and their unread events
// included.
func TestCloseLeavesNothing(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	opts := newOptions(nil, 0)
	opts.URL = srv.URL()
	j := open(t, opts)
	for range 3 {
		if err := j.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Follow(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheck: Check fails while JetStream is away, and succeeds again once
// it is back, without an append to show it.
func TestCheck(t *testing.T) {
	srv := natstest.Run(t)
	opts := newOptions(natstest.Connect(t, srv.URL()), 0)
	opts.Timeout = 200 * time.Millisecond
	j := open(t, opts)
	if err := j.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	srv.Stop()
	if err := j.Check(t.Context()); !errors.Is(err, jetstream.ErrUnavailable) {
		t.Fatalf("Check with the server down: %v, want ErrUnavailable", err)
	}
	srv.Start()
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error { return j.Check(t.Context()) })
}

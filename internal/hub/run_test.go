package hub_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestRunEndClosesEverything(t *testing.T) {
	testutil.CheckNoLeaks(t)
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{Logger: quiet})
	early, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sels(t, "t")})
	if err != nil {
		t.Fatalf("Subscribe before Run: %v", err)
	}
	if id := early.HeadID(); id != "" {
		t.Errorf("HeadID of a subscription made before Run = %q, want empty", id)
	}
	stop := testutil.RunHub(t, h)
	live := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t", "*")})
	resuming := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t"), LastEventID: hub.Earliest})
	ev := publish(t, h, event("t"))
	waitFannedOut(t, h, 1)

	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	for _, s := range []*hub.Subscription{early, live, resuming} {
		waitDone(t, s, hub.ErrHubClosed)
	}
	// What was queued before the end can still be flushed.
	if got := seqs(live.Drain(nil)); !slices.Equal(got, []uint64{ev.Seq}) {
		t.Errorf("Drain after shutdown = %v, want [%d]", got, ev.Seq)
	}
	if err := resuming.Replay(context.Background(), func(*hub.Message) error { return nil }); !errors.Is(err, hub.ErrHubClosed) {
		t.Errorf("Replay after shutdown = %v, want ErrHubClosed", err)
	}
	if _, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sels(t, "t")}); !errors.Is(err, hub.ErrHubClosed) {
		t.Errorf("Subscribe after shutdown = %v, want ErrHubClosed", err)
	}
	if err := h.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
	if got := h.Stats().Subscribers; got != 0 {
		t.Errorf("Subscribers = %d after shutdown", got)
	}
	early.Close()
	_ = j.Close()
}

func TestRunEndsWhenJournalCloses(t *testing.T) {
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{Logger: quiet})
	errc := make(chan error, 1)
	go func() { errc <- h.Run(context.Background()) }()
	<-h.Started()
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	_ = j.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Run returned nil after the journal closed")
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("Run still running after the journal closed")
	}
	waitDone(t, s, hub.ErrHubClosed)
}

// flakyJournal cuts its first feeds short, as a journal whose connection
// drops would.
type flakyJournal struct {
	journal.Journal
	cuts atomic.Int32 // feeds still to cut
}

func (f *flakyJournal) Follow(ctx context.Context, after uint64) (<-chan *journal.Event, error) {
	if f.cuts.Add(-1) < 0 {
		return f.Journal.Follow(ctx, after)
	}
	ctx, cancel := context.WithCancel(ctx)
	in, err := f.Journal.Follow(ctx, after)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *journal.Event)
	go func() {
		defer close(out)
		defer cancel()
		for range 3 {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				out <- ev
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func TestRunFollowsAgainWhenTheFeedStops(t *testing.T) {
	j := &flakyJournal{Journal: newJournal(t)}
	j.cuts.Store(2)
	h := hub.New(j, hub.Config{Logger: quiet})
	testutil.RunHub(t, h)
	s := subscribe(t, h, hub.SubscribeRequest{Selectors: sels(t, "t")})
	var last *journal.Event
	for range 10 {
		last = publish(t, h, event("t"))
	}
	got := receiveUntil(t, s, nil, last.Seq)
	if d := diffSeqs(seqs(got), journalSeqs(t, j, 0, onTopic("t"))); d != "" {
		t.Error(d)
	}
}

func TestHubHeadID(t *testing.T) {
	j := newJournal(t)
	h := hub.New(j, hub.Config{Logger: quiet})
	first := publish(t, h, event("t"))
	if id := h.HeadID(); id != "" {
		t.Errorf("HeadID before Run = %q, want empty", id)
	}
	testutil.RunHub(t, h)
	if id := h.HeadID(); id != first.ID {
		t.Errorf("HeadID once following = %q, want the journal head %q", id, first.ID)
	}
	next := publish(t, h, event("u"))
	waitFannedOut(t, h, 1)
	if id := h.HeadID(); id != next.ID {
		t.Errorf("HeadID = %q, want %q", id, next.ID)
	}
}

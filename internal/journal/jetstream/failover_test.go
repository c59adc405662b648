package jetstream_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

// failoverWait bounds the waits across a restart or a failover, which
// include a reconnection, a leader election and the journal's timeouts.
const failoverWait = 30 * time.Second

// appenders appends events from several goroutines, without pause, and
// keeps those that were acknowledged.
type appenders struct {
	t    *testing.T
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu   sync.Mutex
	done []*journal.Event
	err  error
}

// startAppenders starts workers goroutines appending to j.
func startAppenders(t *testing.T, j journal.Journal, workers int) *appenders {
	ctx, stop := context.WithCancel(context.Background())
	a := &appenders{t: t, stop: stop}
	for w := range workers {
		a.wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				ev := &journal.Event{Topics: []string{"t"}, Data: fmt.Appendf(nil, "%d-%d", w, i)}
				if w == 0 && i%5 == 0 {
					ev.ID = fmt.Sprintf("id-%d", i)
				}
				err := j.Append(ctx, ev)
				a.mu.Lock()
				switch {
				case err == nil:
					a.done = append(a.done, ev)
				case ctx.Err() == nil:
					// Append tries again while JetStream is away; an error
					// is a failure of the journal.
					a.err = fmt.Errorf("Append: %w", err)
				}
				a.mu.Unlock()
			}
		})
	}
	return a
}

// count returns how many appends were acknowledged so far.
func (a *appenders) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		a.t.Fatal(a.err)
	}
	return len(a.done)
}

// waitFor waits until n more appends are acknowledged.
func (a *appenders) waitFor(n int) {
	a.t.Helper()
	target := a.count() + n
	testutil.CheckFor(a.t, failoverWait, 5*time.Millisecond, func() error {
		if got := a.count(); got < target {
			return fmt.Errorf("%d appends acknowledged, waiting for %d", got, target)
		}
		return nil
	})
}

// finish stops the appenders and returns the appends acknowledged, by
// position.
func (a *appenders) finish() []*journal.Event {
	a.t.Helper()
	a.stop()
	a.wg.Wait()
	a.count()
	slices.SortFunc(a.done, func(x, y *journal.Event) int { return cmp.Compare(x.Seq, y.Seq) })
	return a.done
}

// checkFollowed checks that ch delivers want, no more and no less: after
// the last one, the next event to come is one appended to j after it.
func checkFollowed(t *testing.T, j journal.Journal, ch <-chan *journal.Event, want []*journal.Event) {
	t.Helper()
	marker := &journal.Event{Topics: []string{"t"}, Data: []byte("marker")}
	if err := j.Append(t.Context(), marker); err != nil {
		t.Fatal(err)
	}
	for i, w := range append(want, marker) {
		var got *journal.Event
		select {
		case got = <-ch:
		case <-time.After(failoverWait):
			t.Fatalf("follower: nothing after %d events of %d", i, len(want)+1)
		}
		if got == nil || got.Seq != w.Seq || got.ID != w.ID || string(got.Data) != string(w.Data) {
			t.Fatalf("follower: event #%d is %+v, want Seq %d ID %q Data %s", i, got, w.Seq, w.ID, w.Data)
		}
	}
}

// TestServerRestart: the server of a single-node JetStream restarts while
// a node appends and another follows. Appends go on once it is back; the
// follower delivers every acknowledged event exactly once, and nothing
// else; positions and IDs hold across the restart.
func TestServerRestart(t *testing.T) {
	srv := natstest.Run(t)
	opts := newOptions(natstest.Connect(t, srv.URL()), 0)
	opts.Timeout = 500 * time.Millisecond
	a := open(t, opts)
	peer := opts
	peer.Conn = natstest.Connect(t, srv.URL())
	b := open(t, peer)
	ch, err := b.Follow(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}

	apps := startAppenders(t, a, 4)
	apps.waitFor(100)
	srv.Restart()
	apps.waitFor(100)
	done := apps.finish()
	checkFollowed(t, a, ch, done)

	again := open(t, opts)
	if again.Epoch() != a.Epoch() {
		t.Fatalf("epoch after the restart %q, was %q", again.Epoch(), a.Epoch())
	}
	for _, ev := range []*journal.Event{done[0], done[len(done)-1]} {
		if seq, err := again.Lookup(t.Context(), ev.ID); err != nil || seq != ev.Seq {
			t.Fatalf("Lookup(%q) after the restart = %d, %v; want %d", ev.ID, seq, err, ev.Seq)
		}
	}
}

// TestClusterServerDown: of a 3-server cluster keeping the stream with 3
// replicas, the server that leads the stream stops while a node appends
// and another follows. The others elect a leader and appends go on being
// acknowledged; the follower delivers every acknowledged event exactly
// once.
func TestClusterServerDown(t *testing.T) {
	c := natstest.RunCluster(t, 3)
	opts := newOptions(natstest.Connect(t, c.URLs()), 3)
	opts.Timeout = time.Second
	a := open(t, opts)
	peer := opts
	peer.Conn = natstest.Connect(t, c.URLs())
	b := open(t, peer)
	ch, err := b.Follow(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}

	apps := startAppenders(t, a, 4)
	apps.waitFor(100)
	s, err := admin(t, opts.Conn).Stream(t.Context(), opts.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v, %+v", err, info)
	}
	leader := c.Server(info.Cluster.Leader)
	if leader == nil {
		t.Fatalf("no server named %q leads the stream", info.Cluster.Leader)
	}
	start := time.Now()
	leader.Stop()
	apps.waitFor(100)
	t.Logf("appends acknowledged again %v after the stream's leader stopped", time.Since(start))
	checkFollowed(t, a, ch, apps.finish())
}

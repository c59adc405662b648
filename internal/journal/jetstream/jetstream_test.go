package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/journal/journaltest"
)

// streams numbers the streams the tests make, so that each has its own
// name and subjects on servers the tests share.
var streams atomic.Int64

// newOptions returns options for a stream of its own.
func newOptions(nc *nats.Conn, replicas int) jetstream.Options {
	n := streams.Add(1)
	return jetstream.Options{
		Conn:     nc,
		Stream:   fmt.Sprintf("T%d", n),
		Subject:  fmt.Sprintf("t.%d", n),
		Replicas: replicas,
	}
}

// testLogger sends a journal's warnings and errors to the test's output,
// which shows them with -v or when the test fails.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// open opens a journal with opts, closing it when the test ends.
func open(t *testing.T, opts jetstream.Options) *jetstream.Journal {
	t.Helper()
	opts.Logger = testLogger(t)
	j, err := jetstream.Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// openOutside is open for a test that may run in a testing/synctest
// bubble: the journal is opened on out's goroutine, outside any bubble,
// as a Herald node opens it at startup, and may then be used from inside
// one. Opened inside, its subscriptions could not work (see
// natstest.Outside).
func openOutside(t *testing.T, out *natstest.Outside, opts jetstream.Options) *jetstream.Journal {
	t.Helper()
	opts.Logger = testLogger(t)
	var j *jetstream.Journal
	var err error
	out.Do(func() {
		// Not the test's context: it may belong to a bubble.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		j, err = jetstream.Open(ctx, opts)
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// factory returns the conformance suite's factory for journals on the
// servers behind conns, with replicas each: every journal of a test
// opens its stream through the first connection, every peer through the
// next one.
//
// The connections are made by the caller, and the journals opened by
// out, outside any testing/synctest bubble: the suite opens journals
// inside bubbles to test what depends on time.
func factory(out *natstest.Outside, conns []*nats.Conn, replicas int) journaltest.Factory {
	var mu sync.Mutex
	opened := make(map[*jetstream.Journal]jetstream.Options)
	peers := 0
	return journaltest.Factory{
		Open: func(t *testing.T, ret journal.Retention) journal.Journal {
			opts := newOptions(conns[0], replicas)
			opts.Retention = ret
			j := openOutside(t, out, opts)
			mu.Lock()
			opened[j] = opts
			mu.Unlock()
			return j
		},
		Reopen: func(t *testing.T, j journal.Journal) journal.Journal {
			if err := j.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			mu.Lock()
			opts := opened[j.(*jetstream.Journal)]
			mu.Unlock()
			again := openOutside(t, out, opts)
			mu.Lock()
			opened[again] = opts
			mu.Unlock()
			return again
		},
		OpenPeer: func(t *testing.T, j journal.Journal) journal.Journal {
			mu.Lock()
			opts := opened[j.(*jetstream.Journal)]
			peers++
			opts.Conn = conns[peers%len(conns)]
			mu.Unlock()
			return openOutside(t, out, opts)
		},
	}
}

func TestConformance(t *testing.T) {
	srv := natstest.Run(t)
	conns := []*nats.Conn{natstest.Connect(t, srv.URL()), natstest.Connect(t, srv.URL())}
	journaltest.Run(t, factory(natstest.NewOutside(t), conns, 1))
}

func TestConformanceCluster(t *testing.T) {
	c := natstest.RunCluster(t, 3)
	var conns []*nats.Conn
	for _, s := range c.Servers {
		conns = append(conns, natstest.Connect(t, s.URL()))
	}
	journaltest.Run(t, factory(natstest.NewOutside(t), conns, 3))
}

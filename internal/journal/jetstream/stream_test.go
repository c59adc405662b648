package jetstream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

// admin returns a JetStream client for what the tests set up by hand.
func admin(t *testing.T, nc *nats.Conn) natsjs.JetStream {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamConfig returns the configuration of stream name.
func streamConfig(t *testing.T, js natsjs.JetStream, name string) natsjs.StreamConfig {
	t.Helper()
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

func TestOpenCreatesStream(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	opts := jetstream.Options{Conn: nc, Retention: journal.Retention{MaxEvents: 1000, MaxAge: time.Hour}}
	j := open(t, opts)
	if j.Stream() != "HERALD" {
		t.Fatalf("Stream = %q, want HERALD", j.Stream())
	}
	cfg := streamConfig(t, admin(t, nc), "HERALD")
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "herald.>" || cfg.MaxMsgs != 1000 || cfg.MaxAge != time.Hour ||
		cfg.Replicas != 1 || !cfg.AllowDirect || cfg.Storage != natsjs.FileStorage || cfg.Discard != natsjs.DiscardOld {
		t.Fatalf("created stream %+v", cfg)
	}
}

func TestOpenRefusesStream(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	js := admin(t, nc)
	for name, cfg := range map[string]natsjs.StreamConfig{
		"other subjects":  {Subjects: []string{"herald.ev", "herald.id.*"}},
		"more subjects":   {Subjects: []string{"herald.>", "other.>"}},
		"interest":        {Subjects: []string{"herald.>"}, Retention: natsjs.InterestPolicy},
		"work queue":      {Subjects: []string{"herald.>"}, Retention: natsjs.WorkQueuePolicy},
		"discard new":     {Subjects: []string{"herald.>"}, Discard: natsjs.DiscardNew, MaxMsgs: 10},
		"one per subject": {Subjects: []string{"herald.>"}, MaxMsgsPerSubject: 1},
		"no ack":          {Subjects: []string{"herald.>"}, NoAck: true},
	} {
		t.Run(name, func(t *testing.T) {
			opts := newOptions(nc, 0)
			for i, s := range cfg.Subjects {
				cfg.Subjects[i] = opts.Subject + s[len("herald"):]
			}
			cfg.Name = opts.Stream
			if _, err := js.CreateStream(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			j, err := jetstream.Open(t.Context(), opts)
			if err == nil {
				j.Close()
				t.Fatal("Open accepted the stream")
			}
			if !errors.Is(err, jetstream.ErrStreamConfig) {
				t.Fatalf("Open: %v, want ErrStreamConfig", err)
			}
		})
	}
}

// TestOpenUpdatesStream: Open sets the limits it owns on an existing
// stream, and leaves the rest as it finds it.
func TestOpenUpdatesStream(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	js := admin(t, nc)
	opts := newOptions(nc, 0)
	_, err := js.CreateStream(t.Context(), natsjs.StreamConfig{
		Name:        opts.Stream,
		Subjects:    []string{opts.Subject + ".>"},
		MaxMsgs:     5,
		MaxAge:      time.Minute,
		Description: "an operator's",
		Duplicates:  time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts.Retention = journal.Retention{MaxEvents: 100}
	open(t, opts)
	cfg := streamConfig(t, js, opts.Stream)
	if cfg.MaxMsgs != 100 || cfg.MaxAge != 0 || !cfg.AllowDirect || cfg.Description != "an operator's" || cfg.Duplicates != time.Minute {
		t.Fatalf("stream after Open %+v", cfg)
	}
}

// TestEpoch: every handle on a stream has its epoch; a stream deleted and
// created again has a new one, in which the old IDs are unknown, and a
// handle opened on the old stream stops instead of naming new events
// with old IDs.
func TestEpoch(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	opts := newOptions(nc, 0)
	old := open(t, opts)
	if peer := open(t, opts); peer.Epoch() != old.Epoch() || !peer.Created().Equal(old.Created()) {
		t.Fatalf("two handles on one stream: epochs %q and %q", old.Epoch(), peer.Epoch())
	}
	ev := &journal.Event{Topics: []string{"t"}}
	if err := old.Append(t.Context(), ev); err != nil {
		t.Fatal(err)
	}

	if err := admin(t, nc).DeleteStream(t.Context(), opts.Stream); err != nil {
		t.Fatal(err)
	}
	renewed := open(t, opts)
	if renewed.Epoch() == old.Epoch() {
		t.Fatalf("a stream created again kept the epoch %q", old.Epoch())
	}
	again := &journal.Event{Topics: []string{"t"}}
	if err := renewed.Append(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if again.Seq != ev.Seq {
		t.Fatalf("first event of the new stream at %d, want %d", again.Seq, ev.Seq)
	}
	// Position 1 exists again, but the old ID names the old stream's event.
	if seq, err := renewed.Lookup(t.Context(), ev.ID); !errors.Is(err, journal.ErrUnknownID) {
		t.Fatalf("Lookup(%q) in the new stream = %d, %v; want ErrUnknownID", ev.ID, seq, err)
	}
	if _, err := old.Last(t.Context()); !errors.Is(err, jetstream.ErrStreamGone) {
		t.Fatalf("Last on a handle of the deleted stream: %v, want ErrStreamGone", err)
	}
	if err := old.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); !errors.Is(err, jetstream.ErrStreamGone) {
		t.Fatalf("Append on a handle of the deleted stream: %v, want ErrStreamGone", err)
	}
	if err := old.Check(t.Context()); !errors.Is(err, jetstream.ErrStreamGone) {
		t.Fatalf("Check on a handle of the deleted stream: %v, want ErrStreamGone", err)
	}
}

// TestFollowStopsWhenStreamGone: a follower of a stream that is deleted
// ends, and the journal says why, once its tail notices.
func TestFollowStopsWhenStreamGone(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	opts := newOptions(nc, 0)
	j := open(t, opts)
	ch, err := j.Follow(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin(t, nc).DeleteStream(t.Context(), opts.Stream); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		select {
		case _, ok := <-ch:
			if !ok {
				return nil
			}
		default:
		}
		return errors.New("the follower of a deleted stream is still open")
	})
	if _, err := j.Follow(t.Context(), 0); !errors.Is(err, jetstream.ErrStreamGone) {
		t.Fatalf("Follow after the stream was deleted: %v, want ErrStreamGone", err)
	}
}

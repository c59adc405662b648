package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newJournal(t testing.TB) *journal.Memory {
	t.Helper()
	j := journal.NewMemory(journal.Retention{})
	t.Cleanup(func() { _ = j.Close() })
	return j
}

// startHub returns a running hub on a fresh memory journal.
func startHub(t testing.TB, cfg hub.Config) (*hub.Hub, *journal.Memory) {
	t.Helper()
	j := newJournal(t)
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	h := hub.New(j, cfg)
	testutil.RunHub(t, h)
	return h, j
}

func sels(t testing.TB, ss ...string) selector.Set {
	t.Helper()
	set, err := selector.ParseSet(ss)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func subscribe(t testing.TB, h *hub.Hub, req hub.SubscribeRequest) *hub.Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), req)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func publish(t testing.TB, h *hub.Hub, ev *journal.Event) *journal.Event {
	t.Helper()
	if err := h.Publish(context.Background(), ev); err != nil {
		t.Errorf("Publish: %v", err)
	}
	return ev
}

// event returns a public event on topics whose data is its topics.
func event(topics ...string) *journal.Event {
	return &journal.Event{Topics: topics, Data: fmt.Appendf(nil, "%v", topics)}
}

// waitFannedOut waits until the hub has fanned out n events in all.
func waitFannedOut(t testing.TB, h *hub.Hub, n uint64) {
	t.Helper()
	testutil.CheckFor(t, testutil.WaitTimeout, time.Millisecond, func() error {
		if got := h.Stats().FannedOut; got < n {
			return fmt.Errorf("fanned out %d events, want %d", got, n)
		}
		return nil
	})
}

// receiveUntil drains s until it has been handed an event with Seq >= last
// and returns everything it was handed, appended to msgs.
func receiveUntil(t testing.TB, s *hub.Subscription, msgs []*hub.Message, last uint64) []*hub.Message {
	t.Helper()
	timeout := time.After(testutil.WaitTimeout)
	for {
		msgs = s.Drain(msgs)
		if len(msgs) > 0 && msgs[len(msgs)-1].Event.Seq >= last {
			return msgs
		}
		select {
		case <-s.Ready():
		case <-s.Done():
			t.Fatalf("subscription ended before seq %d (%s): %v", last, tail(msgs), s.Err())
		case <-timeout:
			t.Fatalf("no seq %d after %v (%s)", last, testutil.WaitTimeout, tail(msgs))
		}
	}
}

// tail describes the last messages of msgs.
func tail(msgs []*hub.Message) string {
	return fmt.Sprintf("%d received, ending …%v", len(msgs), seqs(msgs[max(len(msgs)-5, 0):]))
}

func seqs(msgs []*hub.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Event.Seq
	}
	return out
}

// journalSeqs returns the positions of the journaled events after after
// that want accepts.
func journalSeqs(t testing.TB, j journal.Journal, after uint64, want func(*journal.Event) bool) []uint64 {
	t.Helper()
	var out []uint64
	err := j.Read(context.Background(), after, func(ev *journal.Event) error {
		if want(ev) {
			out = append(out, ev.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func onTopic(topic string) func(*journal.Event) bool {
	return func(ev *journal.Event) bool { return slices.Contains(ev.Topics, topic) }
}

func isDone(s *hub.Subscription) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

func waitDone(t testing.TB, s *hub.Subscription, want error) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(testutil.WaitTimeout):
		t.Fatalf("subscription not ended after %v", testutil.WaitTimeout)
	}
	if err := s.Err(); !errors.Is(err, want) {
		t.Fatalf("Err() = %v, want %v", err, want)
	}
}

// diffSeqs describes how got differs from want, briefly; "" when equal.
func diffSeqs(got, want []uint64) string {
	if slices.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	window := func(s []uint64) []uint64 { return s[max(i-2, 0):min(i+3, len(s))] }
	return fmt.Sprintf("got %d seqs, want %d; first difference at index %d: got …%v…, want …%v…",
		len(got), len(want), i, window(got), window(want))
}

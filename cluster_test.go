package herald_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

// TestNodesShareJetStream: two hubs on one JetStream stream are one hub to
// their clients: an update published on either reaches the subscribers of
// both, in the same order, and a subscriber resumes on one node from an
// event it received from the other.
func TestNodesShareJetStream(t *testing.T) {
	nats := natstest.Run(t)
	cfg := herald.Config{Anonymous: true, NATS: herald.NATS{URL: nats.URL(), Stream: "NODES"}, Logger: slog.New(slog.DiscardHandler)}
	a, urlA := start(t, cfg)
	b, urlB := start(t, cfg)

	onA := subscribe(t, urlA, "t", client.Subscriber{})
	onB := subscribe(t, urlB, "t", client.Subscriber{})
	var ids []string
	for i, h := range []*herald.Hub{a, b, a, b} {
		ids = append(ids, publish(t, h, herald.Update{Topics: []string{"t"}, Data: []byte{'0' + byte(i)}}))
	}
	for _, s := range []*client.Stream{onA, onB} {
		for i, id := range ids {
			if ev := next(t, s); ev.ID != id || string(ev.Data) != string(rune('0'+i)) {
				t.Fatalf("event %d: got %s %q, want %s", i, ev.ID, ev.Data, id)
			}
		}
	}
	// A subscriber of A that had the first event resumes on B.
	resumed := subscribe(t, urlB, "t", client.Subscriber{LastEventID: ids[0]})
	for _, id := range ids[1:] {
		if ev := next(t, resumed); ev.ID != id {
			t.Fatalf("resumed on B: got %s, want %s", ev.ID, id)
		}
	}
}

// TestReadyFollowsJetStream: a node is unready while it cannot reach
// JetStream, and ready again, by itself, once it can.
func TestReadyFollowsJetStream(t *testing.T) {
	nats := natstest.Run(t)
	_, hubURL := start(t, herald.Config{Anonymous: true, NATS: herald.NATS{URL: nats.URL()}, Logger: slog.New(slog.DiscardHandler)})
	ready := strings.TrimSuffix(hubURL, "/.well-known/mercure") + "/readyz"
	status := func() int {
		resp, err := http.Get(ready)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitStatus := func(want int) {
		t.Helper()
		testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
			if got := status(); got != want {
				return fmt.Errorf("/readyz = %d, want %d", got, want)
			}
			return nil
		})
	}
	waitStatus(http.StatusOK)
	nats.Stop()
	waitStatus(http.StatusServiceUnavailable)
	nats.Start()
	waitStatus(http.StatusOK)
}

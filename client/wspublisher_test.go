package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestWebSocketPublishPipelined(t *testing.T) {
	testutil.CheckNoLeaks(t) // nothing outlives the publisher and the hub
	h := startHub(t, journal.Retention{}, nil)
	p := &client.WebSocketPublisher{URL: h.URL, Token: h.token(auth.MintClaims{Publish: []string{"*"}})}
	defer p.Close()

	const publishers, each = 8, 25
	var mu sync.Mutex
	idOf := make(map[string]string) // data → the ID Publish returned
	var wg sync.WaitGroup
	errc := make(chan error, publishers)
	for g := range publishers {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("%d-%d", g, i)
				id, err := p.Publish(context.Background(), client.Update{Topics: []string{"/t"}, Data: []byte(data)})
				if err != nil {
					errc <- fmt.Errorf("publish %s: %w", data, err)
					return
				}
				mu.Lock()
				idOf[data] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}

	// Every publish got the ID of its own event, and each publisher's
	// events are in the journal in the order it published them.
	sub := h.subscriber(client.TransportSSE, "/t")
	sub.LastEventID = "earliest"
	r := read(connect(t, sub))
	next := make([]int, publishers)
	for range publishers * each {
		ev := r.Next(t)
		var g, i int
		if _, err := fmt.Sscanf(string(ev.Data), "%d-%d", &g, &i); err != nil {
			t.Fatalf("unexpected event %q", ev.Data)
		}
		if want := idOf[string(ev.Data)]; ev.ID != want {
			t.Errorf("event %q has ID %q, but its Publish returned %q", ev.Data, ev.ID, want)
		}
		if i != next[g] {
			t.Errorf("publisher %d: event %d came where %d was due", g, i, next[g])
		}
		next[g] = i + 1
	}
}

func TestWebSocketPublishRefused(t *testing.T) {
	h := startHub(t, journal.Retention{}, nil)
	p := &client.WebSocketPublisher{URL: h.URL, Token: h.token(auth.MintClaims{Publish: []string{"/allowed"}})}
	defer p.Close()
	ctx := context.Background()

	_, err := p.Publish(ctx, client.Update{Topics: []string{"/other"}, Data: []byte("no")})
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || se.Message == "" {
		t.Fatalf("publish without the grant = %v, want a 403 StatusError with the hub's explanation", err)
	}
	// The socket goes on.
	id, err := p.Publish(ctx, client.Update{Topics: []string{"/allowed"}, Data: []byte("yes"), ID: "one"})
	if err != nil || id != "one" {
		t.Fatalf("publish after a refusal = %q, %v; want one", id, err)
	}
	_, err = p.Publish(ctx, client.Update{Topics: []string{"/allowed"}, ID: "one"})
	if !errors.As(err, &se) || se.StatusCode != http.StatusConflict {
		t.Errorf("publish of a duplicate ID = %v, want a 409 StatusError", err)
	}
	if _, err := p.Publish(ctx, client.Update{}); !errors.Is(err, client.ErrNoTopic) {
		t.Errorf("publish without a topic = %v, want ErrNoTopic", err)
	}
}

func TestWebSocketPublishBadToken(t *testing.T) {
	h := startHub(t, journal.Retention{}, nil)
	p := &client.WebSocketPublisher{URL: h.URL, Token: "not-a-token"}
	_, err := p.Publish(context.Background(), client.Update{Topics: []string{"/t"}})
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("publish with a bad token = %v, want a 401 StatusError", err)
	}
}

func TestWebSocketPublishAfterClose(t *testing.T) {
	h := startHub(t, journal.Retention{}, nil)
	p := &client.WebSocketPublisher{URL: h.URL, Token: h.token(auth.MintClaims{Publish: []string{"*"}})}
	defer p.Close()
	ctx := context.Background()
	for i := range 2 {
		if _, err := p.Publish(ctx, client.Update{Topics: []string{"/t"}}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		p.Close()
	}
	// The hub went away: the next publish opens a socket to the new one.
	h.restart()
	if _, err := p.Publish(ctx, client.Update{Topics: []string{"/t"}}); err != nil {
		t.Fatalf("publish after a restart: %v", err)
	}
}

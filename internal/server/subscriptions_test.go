package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

func TestSubscriptionsAPI(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, mode, func(c *serverConfig, _ *hubConfig) { c.SubscriptionEvents = true })
		watcher := e.subscribe("topic="+url.QueryEscape("/.well-known/mercure/subscriptions/{topic}/{subscriber}"),
			bearer(e.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions/{topic}/{subscriber}"}})))
		s := e.subscribe("topic=books", bearer(e.token(auth.MintClaims{Subscribe: []string{"books"}, Payload: map[string]string{"user": "ann"}})))
		// The watcher first sees its own subscription announced.
		if ev := watcher.next(t); !strings.Contains(string(ev.Data), `"topic":"/.well-known/mercure/subscriptions/{topic}/{subscriber}"`) {
			t.Errorf("first event = %s, want the watcher's own subscription", ev.Data)
		}
		ev := watcher.next(t)
		data := string(ev.Data)
		for _, want := range []string{`"type":"Subscription"`, `"topic":"books"`, `"active":true`, `"payload":{"user":"ann"}`, `"subscriber":"urn:uuid:`} {
			if !strings.Contains(data, want) {
				t.Errorf("subscription event %s lacks %s", data, want)
			}
		}

		get := func(path string, tok string) (int, string) {
			req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		admin := e.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions{/topic}{/subscriber}"}})
		status, body := get("/.well-known/mercure/subscriptions", admin)
		if status != 200 || !strings.Contains(body, `"type":"Subscriptions"`) || !strings.Contains(body, `"topic":"books"`) {
			t.Errorf("GET subscriptions: %d %s", status, body)
		}
		status, body = get("/.well-known/mercure/subscriptions/books", admin)
		if status != 200 || !strings.Contains(body, `"topic":"books"`) || strings.Contains(body, `"topic":"/.well-known`) {
			t.Errorf("GET subscriptions/books: %d %s", status, body)
		}
		// One subscription, at its own URL: with the hub's lastEventID, as
		// the list has.
		var list struct {
			LastEventID   string `json:"lastEventID"`
			Subscriptions []struct{ ID string }
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Subscriptions) != 1 {
			t.Fatalf("GET subscriptions/books: %s (%v)", body, err)
		}
		status, body = get(list.Subscriptions[0].ID, admin)
		if status != 200 || !strings.Contains(body, `"type":"Subscription"`) || !strings.Contains(body, `"lastEventID":"`+list.LastEventID+`"`) {
			t.Errorf("GET %s: %d %s, want the subscription with lastEventID %s", list.Subscriptions[0].ID, status, body, list.LastEventID)
		}
		if status, _ := get("/.well-known/mercure/subscriptions", e.token(auth.MintClaims{Subscribe: []string{"books"}})); status != 403 {
			t.Errorf("subscriptions API without grant: %d, want 403", status)
		}

		s.close()
		ev = watcher.next(t)
		if !strings.Contains(string(ev.Data), `"active":false`) {
			t.Errorf("disconnect event = %s", ev.Data)
		}
	})
}

// Subscription events cost no journal write: connecting and disconnecting
// with many selectors leaves the journal as it was, while a watcher still
// sees every subscription come and go.
func TestSubscriptionEventsAreNotJournaled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	j, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e := newEnvWithJournal(t, j, anonymous, func(c *serverConfig, _ *hubConfig) { c.SubscriptionEvents = true })
	watcher := e.subscribe("topic="+url.QueryEscape("/.well-known/mercure/subscriptions/{topic}/{subscriber}"),
		bearer(e.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions/{topic}/{subscriber}"}})))
	// Its own subscription first. Announcements carry no id: the
	// watcher's last event ID stays where its stream opened.
	position := watcher.next(t).ID
	var sels []string
	for i := range 64 {
		sels = append(sels, "topic="+url.QueryEscape(fmt.Sprintf("https://example.com/%d/{id}", i)))
	}
	const rounds = 20
	for range rounds {
		s := e.subscribe(strings.Join(sels, "&"), nil)
		s.close()
	}
	for i := range 2 * rounds * len(sels) {
		if ev := watcher.next(t); !strings.Contains(string(ev.Data), `"type":"Subscription"`) || ev.ID != position {
			t.Fatalf("subscription event %d: id %q, %s", i, ev.ID, ev.Data)
		}
	}
	if last, err := j.Last(context.Background()); err != nil || last != 0 {
		t.Fatalf("journal head %d (%v) after %d subscription events, want nothing journaled", last, err, 2*rounds*len(sels))
	}
}

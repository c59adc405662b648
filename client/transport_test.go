package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// expect reads the next len(ids) events and checks that they are the
// events published with ids and data, in order.
func expect(t *testing.T, r *reader, ids, data []string) {
	t.Helper()
	for i := range ids {
		ev := r.Next(t)
		if ev.ID != ids[i] || string(ev.Data) != data[i] {
			t.Fatalf("event %d = %q %q, want %q %q", i, ev.ID, ev.Data, ids[i], data[i])
		}
	}
}

func TestEveryEventOnceAcrossRestart(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			testutil.CheckNoLeaks(t) // of the stream, its connections, the hub
			h := startHub(t, journal.Retention{}, nil)
			var errs errorLog
			sub := h.subscriber(tr, "/t")
			sub.OnError = errs.Add
			st := connect(t, sub)
			r := read(st)

			var ids, data []string
			publish := func(from, to int) {
				for i := from; i < to; i++ {
					data = append(data, fmt.Sprint(i))
					ids = append(ids, h.publish("/t", data[i]))
				}
			}
			publish(0, 5)
			expect(t, r, ids[:5], data[:5])
			if got := st.LastEventID(); got != ids[4] {
				t.Errorf("LastEventID = %q, want %q", got, ids[4])
			}

			// The hub goes down; the stream notices (it fails to
			// reconnect, or its poll is refused) and keeps trying.
			before := len(errs.Errors())
			h.stop()
			testutil.CheckFor(t, testutil.WaitTimeout, time.Millisecond, func() error {
				if len(errs.Errors()) == before {
					return errors.New("OnError was not told of the lost hub")
				}
				return nil
			})
			// Back, the hub gets events whether or not the stream is back.
			h.start()
			publish(5, 10)
			expect(t, r, ids[5:], data[5:])
			// Nothing was repeated after the last one either: a new event
			// is the next to arrive.
			publish(10, 11)
			expect(t, r, ids[10:], data[10:])
		})
	}
}

func TestCursorUnknown(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := startHub(t, journal.Retention{MaxEvents: 2}, nil)
			var ids, data []string
			for i := range 4 {
				data = append(data, fmt.Sprint(i))
				ids = append(ids, h.publish("/t", data[i]))
			}

			var mu sync.Mutex
			var unknown []string
			sub := h.subscriber(tr, "/t")
			sub.LastEventID = ids[0] // dropped by retention
			sub.OnCursorUnknown = func(id string) {
				mu.Lock()
				defer mu.Unlock()
				unknown = append(unknown, id)
			}
			r := read(connect(t, sub))
			// Replayed from the oldest retained event.
			expect(t, r, ids[2:], data[2:])
			mu.Lock()
			if !slices.Equal(unknown, []string{ids[0]}) {
				t.Errorf("OnCursorUnknown called with %q, want [%q]", unknown, ids[0])
			}
			unknown = nil
			mu.Unlock()

			// A known cursor is not reported.
			sub.LastEventID = ids[2]
			r = read(connect(t, sub))
			expect(t, r, ids[3:], data[3:])
			mu.Lock()
			if len(unknown) != 0 {
				t.Errorf("OnCursorUnknown called with %q for a retained event", unknown)
			}
			mu.Unlock()
		})
	}
}

// queryLog records the query of every request an http.Client sends.
type queryLog struct {
	mu      sync.Mutex
	queries []url.Values
}

func (l *queryLog) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.queries = append(l.queries, req.URL.Query())
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (l *queryLog) Queries() []url.Values {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.queries)
}

func TestPollPaging(t *testing.T) {
	h := startHub(t, journal.Retention{}, nil)
	var ids, data []string
	for i := range 5 {
		data = append(data, fmt.Sprint(i))
		ids = append(ids, h.publish("/t", data[i]))
	}
	var log queryLog
	sub := h.subscriber(client.TransportPoll, "/t")
	sub.HTTPClient = &http.Client{Transport: &log}
	sub.LastEventID = "earliest"
	sub.PollLimit = 2
	r := read(connect(t, sub))
	expect(t, r, ids, data)

	// Three answers of at most two events each, each poll from the last
	// event of the previous answer.
	qs := log.Queries()
	if len(qs) < 3 {
		t.Fatalf("%d polls for 5 events with limit 2, want at least 3", len(qs))
	}
	for i, want := range []string{"earliest", ids[1], ids[3]} {
		if got := qs[i].Get("lastEventID"); got != want {
			t.Errorf("poll %d: lastEventID = %q, want %q", i, got, want)
		}
		if got := qs[i].Get("limit"); got != "2" {
			t.Errorf("poll %d: limit = %q, want 2", i, got)
		}
	}
	if got := qs[0].Get("wait"); got != "0" {
		t.Errorf("first poll: wait = %q, want 0 (Connect does not wait for an event)", got)
	}
}

// A polling stream is one subscriber for the subscriptions API, however
// many polls it makes.
func TestPollPresence(t *testing.T) {
	h := startHub(t, journal.Retention{}, func(c *server.Config) { c.SubscriptionEvents = true })
	var log queryLog
	sub := h.subscriber(client.TransportPoll, "/t")
	sub.HTTPClient = &http.Client{Transport: &log}
	r := read(connect(t, sub))
	for i := range 3 {
		id := h.publish("/t", fmt.Sprint(i))
		expect(t, r, []string{id}, []string{fmt.Sprint(i)})
	}
	if n := len(log.Queries()); n < 4 {
		t.Fatalf("%d polls, want at least 4", n)
	}

	admin := h.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions{/topic}{/subscriber}"}})
	req, _ := http.NewRequest("GET", h.URL+"/subscriptions/"+url.PathEscape("/t"), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if n := strings.Count(string(body), `"subscriber":`); resp.StatusCode != http.StatusOK || n != 1 {
		t.Errorf("subscriptions of /t: %s listing %d subscribers, want 1: %s", resp.Status, n, body)
	}
}

func TestPollFromNow(t *testing.T) {
	h := startHub(t, journal.Retention{}, nil)
	h.publish("/t", "before")
	st := connect(t, h.subscriber(client.TransportPoll, "/t"))
	// The first answer placed the cursor at the newest event.
	if got := st.LastEventID(); got == "" {
		t.Error("LastEventID empty after the first poll, want the newest event's")
	}
	r := read(st)
	id := h.publish("/t", "after")
	expect(t, r, []string{id}, []string{"after"})
}

func TestRefusedForGood(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := startHub(t, journal.Retention{}, nil)
			sub := h.subscriber(tr, "/t")
			sub.Header.Set("Authorization", "Bearer "+h.token(auth.MintClaims{Subscribe: []string{"*"}})+"x")
			var errs errorLog
			sub.OnError = errs.Add
			_, err := sub.Connect(t.Context())
			var se *client.StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Connect with a bad token = %v, want a 401 StatusError", err)
			}
			if got := errs.Errors(); len(got) != 1 {
				t.Errorf("OnError got %v, want the one error", got)
			}
		})
	}
}

func TestTransportString(t *testing.T) {
	for tr, want := range map[client.Transport]string{
		client.TransportSSE: "sse", client.TransportPoll: "poll", client.TransportWebSocket: "ws", 7: "Transport(7)",
	} {
		if got := tr.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(tr), got, want)
		}
	}
}

// BeforeConnect runs before each attempt, on every transport: a token it
// refreshes is the one the hub sees, and a stream whose token expires
// carries on with the next one.
func TestBeforeConnectRefreshesTheToken(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := startHub(t, journal.Retention{}, nil)
			sub := h.subscriber(tr, "/t")
			sub.Header = nil
			var mu sync.Mutex
			calls := 0
			sub.BeforeConnect = func(req *http.Request) error {
				mu.Lock()
				calls++
				mu.Unlock()
				req.Header.Set("Authorization", "Bearer "+h.token(auth.MintClaims{Subscribe: []string{"*"}}))
				return nil
			}
			st := connect(t, sub)
			r := read(st)
			first := h.publish("/t", "a")
			expect(t, r, []string{first}, []string{"a"})
			h.restart()
			second := h.publish("/t", "b")
			expect(t, r, []string{second}, []string{"b"})
			mu.Lock()
			defer mu.Unlock()
			if calls < 2 {
				t.Errorf("BeforeConnect called %d times across a reconnection", calls)
			}
		})
	}
}

// A stream with MaxAttempts gives up after that many failed attempts, with
// ErrGaveUp, and OnError sees it Closed then.
func TestMaxAttempts(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := startHub(t, journal.Retention{}, nil)
			sub := h.subscriber(tr, "/t")
			sub.MaxAttempts = 3
			var st *client.Stream
			var mu sync.Mutex
			var finalState client.ReadyState = -1
			sub.OnError = func(err error) {
				if errors.Is(err, client.ErrGaveUp) {
					mu.Lock()
					finalState = st.ReadyState()
					mu.Unlock()
				}
			}
			st = connect(t, sub)
			h.stop()
			err := read(st).End(t)
			if !errors.Is(err, client.ErrGaveUp) || !strings.Contains(err.Error(), "3 failed attempts") {
				t.Fatalf("stream ended with %v, want ErrGaveUp after 3 attempts", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if finalState != client.Closed {
				t.Errorf("OnError saw the final error in state %v, want CLOSED", finalState)
			}
		})
	}
}

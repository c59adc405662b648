package bench

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// fixtureHub is a TEST FIXTURE, not a hub: the least of the Mercure protocol
// that herald bench needs — publish with a JWT, subscribe to one topic over
// SSE, resume with Last-Event-ID from an in-memory history — so that the
// scenarios run end to end before, and independently of, Herald's server.
// Its fault knobs let tests check that the bench notices a misbehaving hub.
type fixtureHub struct {
	key []byte

	mu     sync.Mutex
	events []fixtureEvent
	subs   map[*fixtureSub]struct{}

	// Faults, off when zero.
	skipReplayEvery int // leave every n-th event out of a replay
	dupLiveEvery    int // send every n-th live event twice
	kickAfter       int // end every first (not resumed) stream after this many live events

	tls bool // serve HTTPS with a self-signed certificate
}

type fixtureEvent struct{ id, topic, data string }

type fixtureSub struct {
	topic string
	ch    chan fixtureEvent
}

const fixtureKey = "test-secret"

// newFixture starts a fixture hub on loopback; its URL is the hub URL.
func newFixture(t *testing.T, configure func(*fixtureHub)) (*fixtureHub, string) {
	t.Helper()
	h, nodes := newFixtureNodes(t, 1, configure)
	return h, nodes[0].url
}

// fixtureNode is one of the servers of a fixture hub: the nodes of a
// cluster, which share their events and subscribers as Herald's nodes do
// through their journal. It counts the requests it served.
type fixtureNode struct {
	url                          string
	subscribes, resumes, publish atomic.Int64
}

// newFixtureNodes starts n servers of one fixture hub on loopback.
func newFixtureNodes(t *testing.T, n int, configure func(*fixtureHub)) (*fixtureHub, []*fixtureNode) {
	t.Helper()
	h := &fixtureHub{key: []byte(fixtureKey), subs: map[*fixtureSub]struct{}{}}
	if configure != nil {
		configure(h)
	}
	nodes := make([]*fixtureNode, n)
	for i := range nodes {
		nd := &fixtureNode{}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /.well-known/mercure", func(w http.ResponseWriter, r *http.Request) {
			nd.subscribes.Add(1)
			if r.Header.Get("Last-Event-ID") != "" {
				nd.resumes.Add(1)
			}
			h.subscribe(w, r)
		})
		mux.HandleFunc("POST /.well-known/mercure", func(w http.ResponseWriter, r *http.Request) {
			nd.publish.Add(1)
			h.publish(w, r)
		})
		mux.HandleFunc("GET /metrics", h.metrics)
		srv := httptest.NewUnstartedServer(mux)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
		if h.tls {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		t.Cleanup(func() {
			srv.CloseClientConnections()
			srv.Close()
		})
		nd.url = srv.URL + "/.well-known/mercure"
		nodes[i] = nd
	}
	return h, nodes
}

func (h *fixtureHub) authorized(r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return h.key, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		return false
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	_, ok = claims["mercure"]
	return ok
}

func (h *fixtureHub) publish(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	topic, data := r.PostFormValue("topic"), r.PostFormValue("data")
	if topic == "" {
		http.Error(w, "missing topic", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	ev := fixtureEvent{id: fmt.Sprintf("urn:fixture:%d", len(h.events)+1), topic: topic, data: data}
	h.events = append(h.events, ev)
	live := len(h.events)
	for s := range h.subs {
		if s.topic != topic {
			continue
		}
		copies := 1
		if h.dupLiveEvery > 0 && live%h.dupLiveEvery == 0 {
			copies = 2
		}
		for range copies {
			select {
			case s.ch <- ev:
			default: // a slow consumer is dropped, as a real hub would
				delete(h.subs, s)
				close(s.ch)
			}
		}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, ev.id)
}

func (h *fixtureHub) subscribe(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	last := r.Header.Get("Last-Event-ID")
	s := &fixtureSub{topic: topic, ch: make(chan fixtureEvent, 4096)}

	// History snapshot and registration under one lock: no gap, no overlap.
	// As Mercure does, the Last-Event-ID response header names the newest
	// event in the history, "earliest" when there is none.
	h.mu.Lock()
	from, answer := len(h.events), "earliest"
	if n := len(h.events); n > 0 {
		answer = h.events[n-1].id
	}
	if last != "" {
		from = 0
		for i, ev := range h.events {
			if ev.id == last {
				from = i + 1
				break
			}
		}
	}
	var replay []fixtureEvent
	for i, ev := range h.events[from:] {
		if ev.topic == topic && (h.skipReplayEvery == 0 || (i+1)%h.skipReplayEvery != 0) {
			replay = append(replay, ev)
		}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer h.unsubscribe(s)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Last-Event-ID", answer)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	for _, ev := range replay {
		fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.id, ev.data)
	}
	if rc.Flush() != nil {
		return
	}
	sent := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-s.ch:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.id, ev.data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			sent++
			if h.kickAfter > 0 && sent == h.kickAfter && last == "" {
				return
			}
		}
	}
}

// metrics serves Prometheus text whose memory figure is a fixed 1,000,000
// bytes plus 1,000 per subscriber, so that tests can check the arithmetic.
func (h *fixtureHub) metrics(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	subs, events := len(h.subs), len(h.events)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", 1_000_000+1000*subs)
	fmt.Fprintf(w, "fixture_connections %d\nfixture_events_total %d\ngo_goroutines 7\n", subs, events)
}

func (h *fixtureHub) unsubscribe(s *fixtureSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// subscribers is how many subscriptions are open now.
func (h *fixtureHub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

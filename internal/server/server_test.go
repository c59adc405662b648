package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

const testSecret = "test-secret-of-at-least-32-bytes!!"

// hubEnv is a running hub and server for one test.
type hubEnv struct {
	t       testing.TB
	srv     *server.Server
	hub     *hub.Hub
	journal journal.Journal
	ts      *httptest.Server
	key     auth.Key
	url     string // the hub URL
}

type option func(*server.Config, *hub.Config)

func newEnv(t testing.TB, opts ...option) *hubEnv {
	t.Helper()
	return newEnvWithJournal(t, journal.NewMemory(journal.Retention{}), opts...)
}

func newEnvWithJournal(t testing.TB, j journal.Journal, opts ...option) *hubEnv {
	t.Helper()
	key, err := auth.ParseKey([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	hcfg := hub.Config{}
	cfg := server.Config{Journal: j, PublisherKey: &key, SubscriberKey: &key, Heartbeat: -1}
	for _, o := range opts {
		o(&cfg, &hcfg)
	}
	h := hub.New(j, hcfg)
	testutil.RunHub(t, h) // stopped at cleanup, after the server below
	cfg.Hub = h
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Drain()
		ts.Close()
	})
	return &hubEnv{t: t, srv: srv, hub: h, journal: j, ts: ts, key: key, url: ts.URL + "/.well-known/mercure"}
}

func (e *hubEnv) token(c auth.MintClaims) string {
	e.t.Helper()
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	tok, err := auth.Mint(e.key, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *hubEnv) publisherToken() string {
	return e.token(auth.MintClaims{Publish: []string{"*"}})
}

// publish posts form and returns the status and body.
func (e *hubEnv) publishForm(tok string, form url.Values) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// mustPublish publishes and returns the event ID.
func (e *hubEnv) mustPublish(form url.Values) string {
	e.t.Helper()
	status, body := e.publishForm(e.publisherToken(), form)
	if status != http.StatusOK {
		e.t.Fatalf("publish %v: %d %s", form, status, body)
	}
	return body
}

// stream is an open subscription read by a real HTTP client.
type stream struct {
	resp   *http.Response
	events chan sse.Event
	errc   chan error
	cancel context.CancelFunc
}

// subscribe opens a stream; header may carry Authorization and
// Last-Event-ID. It fails the test unless the answer is 200.
func (e *hubEnv) subscribe(query string, header http.Header) *stream {
	e.t.Helper()
	s, status, body := e.trySubscribe(query, header)
	if status != http.StatusOK {
		e.t.Fatalf("subscribe %s: %d %s", query, status, body)
	}
	return s
}

// get sends a subscribe request; cancel ends it.
func (e *hubEnv) get(query string, header http.Header) (resp *http.Response, cancel func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	return resp, cancel
}

func (e *hubEnv) trySubscribe(query string, header http.Header) (*stream, int, string) {
	e.t.Helper()
	resp, cancel := e.get(query, header)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, strings.TrimSpace(string(body))
	}
	s := &stream{resp: resp, events: make(chan sse.Event, 1024), errc: make(chan error, 1), cancel: cancel}
	go func() {
		dec := sse.NewDecoder(resp.Body)
		for {
			ev, err := dec.Next()
			if err != nil {
				s.errc <- err
				close(s.events)
				return
			}
			s.events <- ev
		}
	}()
	e.t.Cleanup(s.close)
	return s, resp.StatusCode, ""
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event or fails after a timeout.
func (s *stream) next(t *testing.T) sse.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("stream ended: %v", <-s.errc)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sse.Event{}
}

// nothingBefore shows that s received nothing else: it publishes a marker
// on topic and checks that the marker is the next event s gets.
func (e *hubEnv) nothingBefore(t *testing.T, s *stream, topic string) {
	t.Helper()
	marker := e.mustPublish(form("topic", topic, "data", "marker"))
	if ev := s.next(t); ev.ID != marker {
		t.Fatalf("got %q (%s), want the marker %q next: an event that should not be there", ev.ID, ev.Data, marker)
	}
}

// ended waits for the server to end the stream.
func (s *stream) ended(t *testing.T) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("stream still open after 5s")
		}
	}
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// readRaw reads the first n bytes of a stream body, for wire-level checks.
func readRaw(t *testing.T, r io.Reader, prefix string) {
	t.Helper()
	br := bufio.NewReader(r)
	got := make([]byte, len(prefix))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != prefix {
		t.Fatalf("stream starts %q, want %q", got, prefix)
	}
}

type (
	serverConfig = server.Config
	hubConfig    = hub.Config
)

// streamModes are the two ways a stream is written: push streams
// (hijacked, no goroutine while idle; the default for HTTP/1.1 on Linux)
// and goroutine streams (net/http's way, used for HTTP/2 and TLS). Tests of
// stream behaviour run in both.
var streamModes = []struct {
	name string
	opt  option
}{
	{"push", func(*serverConfig, *hubConfig) {}},
	{"goroutine", func(c *serverConfig, _ *hubConfig) { c.GoroutineStreams = true }},
}

// inModes runs fn once per stream mode.
func inModes(t *testing.T, fn func(t *testing.T, mode option)) {
	for _, m := range streamModes {
		t.Run(m.name, func(t *testing.T) { fn(t, m.opt) })
	}
}

package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

func anonymous(c *serverConfig, _ *hubConfig) { c.Anonymous = true }

func TestSelectors(t *testing.T) {
	e := newEnv(t, anonymous)
	tmpl := e.subscribe("topic="+url.QueryEscape("https://example.com/books/{id}"), nil)
	all := e.subscribe("topic=*", nil)
	two := e.subscribe("topic=a&topic=b", nil)

	for _, topic := range []string{"https://example.com/books/1", "https://example.com/books/1/reviews", "a", "b"} {
		e.mustPublish(form("topic", topic, "data", topic))
	}
	if ev := tmpl.next(t); string(ev.Data) != "https://example.com/books/1" {
		t.Errorf("template subscriber got %q", ev.Data)
	}
	e.nothingBefore(t, tmpl, "https://example.com/books/2")
	for i, want := range []string{"https://example.com/books/1", "https://example.com/books/1/reviews", "a", "b"} {
		if ev := all.next(t); string(ev.Data) != want {
			t.Errorf("* subscriber event %d = %q, want %q", i, ev.Data, want)
		}
	}
	for _, want := range []string{"a", "b"} {
		if ev := two.next(t); string(ev.Data) != want {
			t.Errorf("two-topic subscriber got %q, want %q", ev.Data, want)
		}
	}
}

func TestSubscribeRefusesBadRequests(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.MaxSelectors = 2 })
	cases := map[string]string{
		"no topic":           "",
		"malformed template": "topic=" + url.QueryEscape("https://example.com/{id"),
		"too many":           "topic=a&topic=b&topic=c",
		"control character":  "topic=a%01",
		"bad last event id":  "topic=a&lastEventID=" + url.QueryEscape("x\ny"),
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			if _, status, body := e.trySubscribe(q, nil); status != 400 || body == "" {
				t.Errorf("got %d %q, want 400 with a message", status, body)
			}
		})
	}
}

// publishN publishes n events on topic and returns their IDs.
func (e *hubEnv) publishN(topic string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.mustPublish(form("topic", topic, "data", strconv.Itoa(i)))
	}
	return ids
}

func TestResume(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		ids := e.publishN("t", 10)
		// The response header names the newest event fanned out: wait for the
		// hub to have followed the journal to the last publish.
		testutil.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
			if got := e.hub.HeadID(); got != ids[9] {
				return fmt.Errorf("hub head %q, want %q", got, ids[9])
			}
			return nil
		})

		// Header: everything after the 4th event, then live.
		s := e.subscribe("topic=t", http.Header{"Last-Event-ID": {ids[3]}})
		if got := s.resp.Header.Get("Last-Event-ID"); got != ids[9] {
			t.Errorf("Last-Event-ID response header = %q, want the newest %q", got, ids[9])
		}
		for _, want := range ids[4:] {
			if ev := s.next(t); ev.ID != want {
				t.Fatalf("replayed %q, want %q", ev.ID, want)
			}
		}
		live := e.mustPublish(form("topic", "t", "data", "live"))
		if ev := s.next(t); ev.ID != live {
			t.Fatalf("live %q, want %q", ev.ID, live)
		}

		// Query parameter, for a browser's first connection.
		q := e.subscribe("topic=t&lastEventID="+url.QueryEscape(ids[8]), nil)
		if ev := q.next(t); ev.ID != ids[9] {
			t.Errorf("query resume started at %q, want %q", ev.ID, ids[9])
		}

		// The header wins over the query parameter.
		both := e.subscribe("topic=t&lastEventID="+url.QueryEscape(ids[0]), http.Header{"Last-Event-ID": {ids[9]}})
		if ev := both.next(t); ev.ID != live {
			t.Errorf("header+query resume started at %q, want %q", ev.ID, live)
		}

		// Unknown ID: answered "earliest" and replayed from the oldest retained.
		u := e.subscribe("topic=t", http.Header{"Last-Event-ID": {"no-such-id"}})
		if got := u.resp.Header.Get("Last-Event-ID"); got != "earliest" {
			t.Errorf("unknown id: Last-Event-ID header = %q, want earliest", got)
		}
		if ev := u.next(t); ev.ID != ids[0] {
			t.Errorf("unknown id replay started at %q, want %q", ev.ID, ids[0])
		}
		// "earliest" replays everything retained.
		all := e.subscribe("topic=t&lastEventID=earliest", nil)
		if ev := all.next(t); ev.ID != ids[0] {
			t.Errorf("earliest replay started at %q", ev.ID)
		}
	})
}

func TestResumeUnderConcurrentPublishing(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		first := e.publishN("t", 50)
		var wg sync.WaitGroup
		wg.Add(1)
		var published []string
		go func() {
			defer wg.Done()
			for i := range 200 {
				status, id := e.publishForm(e.publisherToken(), form("topic", "t", "data", fmt.Sprint("c", i)))
				if status != 200 {
					t.Errorf("publish: %d %s", status, id)
					return
				}
				published = append(published, id)
			}
		}()
		s := e.subscribe("topic=t", http.Header{"Last-Event-ID": {first[9]}})
		wg.Wait()
		want := append(first[10:], published...)
		for i, id := range want {
			if ev := s.next(t); ev.ID != id {
				t.Fatalf("event %d: got %q, want %q (gap or duplicate)", i, ev.ID, id)
			}
		}
		e.nothingBefore(t, s, "t")
	})
}

func TestResumeAcrossRestart(t *testing.T) {
	var ids []string
	e2 := restarted(t, func(e *hubEnv) { ids = e.publishN("t", 20) })
	more := e2.publishN("t", 5)
	s := e2.subscribe("topic=t", http.Header{"Last-Event-ID": {ids[12]}})
	for _, want := range append(ids[13:], more...) {
		if ev := s.next(t); ev.ID != want {
			t.Fatalf("after restart got %q, want %q", ev.ID, want)
		}
	}
	e2.nothingBefore(t, s, "t")
}

// restarted runs before on a server with a bolt journal, shuts that server
// down and closes the file, and returns a new server on the same file.
func restarted(t *testing.T, before func(e *hubEnv)) *hubEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.db")
	j, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWithJournal(t, j, anonymous)
	before(e)
	e.srv.Drain()
	e.ts.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j2.Close() })
	return newEnvWithJournal(t, j2, anonymous)
}

// A subscriber that stops reading is cut, never slowing the others, and
// resumes from the last event it received with nothing lost.
func TestSlowConsumerIsolated(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(_ *serverConfig, h *hubConfig) { h.QueueBytes = 1 << 20 })
		// The stalled subscriber reads nothing until it is cut; TCP
		// buffers fill, then its queue.
		stalled, cancel := e.get("topic=t", nil)
		defer cancel()
		fast := e.subscribe("topic=t", nil)

		payload := strings.Repeat("x", 8<<10)
		const n = 3000 // 24 MiB: more than the socket buffers and the queue hold
		// The fast subscriber reads each batch as it is published: it never
		// falls more than a batch (256 KiB) behind, and the publisher is
		// never held up by the stalled one.
		const batch = 32
		tok := e.publisherToken()
		ids := make([]string, n)
		for i := range n {
			status, body := e.publishForm(tok, form("topic", "t", "data", payload))
			if status != 200 {
				t.Fatalf("publish %d: %d %s", i, status, body)
			}
			ids[i] = body
			if (i+1)%batch == 0 || i == n-1 {
				for j := i - i%batch; j <= i; j++ {
					if got := fast.next(t); got.ID != ids[j] || len(got.Data) != len(payload) {
						t.Fatalf("fast subscriber event %d: %q, %d bytes", j, got.ID, len(got.Data))
					}
				}
			}
		}
		if e.hub.Stats().SlowConsumerDisconnects == 0 {
			t.Fatal("stalled subscriber not disconnected")
		}

		// What the stalled client had before the cut, then a resume from
		// its last event ID: every event once, in order.
		dec := sse.NewDecoder(stalled.Body)
		var got []string
		for ev, err := range dec.All() {
			if err != nil {
				break
			}
			got = append(got, ev.ID)
		}
		if len(got) == n {
			t.Fatal("the stalled client received everything: it was never cut")
		}
		resumed := e.subscribe("topic=t", http.Header{"Last-Event-ID": {dec.LastEventID()}})
		for len(got) < n {
			got = append(got, resumed.next(t).ID)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("cut and resumed, the client got %d events out of order or twice", len(got))
		}
	})
}

func TestMaxConnections(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.MaxConnections = 2 })
		e.subscribe("topic=a", nil)
		b := e.subscribe("topic=a", nil)
		_, status, _ := e.trySubscribe("topic=a", nil)
		if status != http.StatusServiceUnavailable {
			t.Errorf("third stream: %d, want 503", status)
		}
		b.close()
		testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if _, status, _ := e.trySubscribe("topic=a", nil); status != 200 {
				return fmt.Errorf("after a close: %d", status)
			}
			return nil
		})
	})
}

func TestDrainEndsStreams(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		s := e.subscribe("topic=a", nil)
		e.srv.Drain()
		s.ended(t)
		resp, err := http.Get(e.ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz while draining = %d, want 503", resp.StatusCode)
		}
	})
}

func TestCORS(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example.com"} })
	s := e.subscribe("topic=a", http.Header{"Origin": {"https://app.example.com"}})
	h := s.resp.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed origin headers: %v", h)
	}
	if _, status, _ := e.trySubscribe("topic=a", http.Header{"Origin": {"https://evil.example.net"}}); status != 403 {
		t.Errorf("foreign origin: %d, want 403", status)
	}
	for _, path := range []string{"", "/subscriptions", "/subscriptions/x"} {
		req, _ := http.NewRequest("OPTIONS", e.url+path, nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight of %q: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	// Same host over another scheme is another origin: no credentials.
	host := strings.TrimPrefix(e.ts.URL, "http://")
	if _, status, _ := e.trySubscribe("topic=a", http.Header{"Origin": {"https://" + host}}); status != 403 {
		t.Errorf("https origin on an http hub: %d, want 403", status)
	}
	same := e.subscribe("topic=a", http.Header{"Origin": {"http://" + host}})
	if same.resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("same origin: %v", same.resp.Header)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, anonymous)
	e.mustPublish(form("topic", "t", "data", "x"))
	for path, want := range map[string]string{
		"/healthz": `"status":"ok"`,
		"/readyz":  `"status":"ready"`,
		"/metrics": "herald_publishes_total 1\n",
	} {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s, want %s", path, resp.StatusCode, body, want)
		}
	}
}

// A client that goes away is noticed without a reader goroutine: its push
// stream is closed and counted out.
func TestPushNoticesClientHangup(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.Heartbeat = -1 })
	s := e.subscribe("topic=t", nil)
	testutil.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := e.srv.Streams(); n != 1 {
			return fmt.Errorf("%d streams, want 1", n)
		}
		return nil
	})
	s.close()
	testutil.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n, subs := e.srv.Streams(), e.hub.Stats().Subscribers; n != 0 || subs != 0 {
			return fmt.Errorf("after hang-up: %d streams, %d subscriptions", n, subs)
		}
		return nil
	})
}

// The write timeout bounds each write, not the stream: a stream that was
// written with a deadline (its replay) keeps receiving after the deadline
// would have passed.
func TestWriteTimeoutIsPerWrite(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.WriteTimeout = 100 * time.Millisecond })
		ids := e.publishN("t", 3)
		s := e.subscribe("topic=t", http.Header{"Last-Event-ID": {ids[0]}})
		for _, want := range ids[1:] {
			if ev := s.next(t); ev.ID != want {
				t.Fatalf("replayed %q, want %q", ev.ID, want)
			}
		}
		time.Sleep(300 * time.Millisecond)
		live := e.mustPublish(form("topic", "t", "data", "after the deadline"))
		if ev := s.next(t); ev.ID != live {
			t.Fatalf("got %q, want %q", ev.ID, live)
		}
	})
}

// Over TLS the server speaks HTTP/2 to Go clients too; such streams are
// written by their own goroutine (push streams need a plain socket).
func TestHTTP2OverTLS(t *testing.T) {
	e := newEnv(t, anonymous)
	ts := httptest.NewUnstartedServer(e.srv)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	client := ts.Client()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/.well-known/mercure?topic=t", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("got %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	id := e.mustPublish(form("topic", "t", "data", "over h2"))
	dec := sse.NewDecoder(resp.Body)
	ev, err := dec.Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != id || string(ev.Data) != "over h2" {
		t.Errorf("got %+v", ev)
	}
}

// GET routes answer HEAD too: a HEAD on the hub says what a stream would
// be, and opens none.
func TestSubscribeHEAD(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		resp, err := http.Head(e.url + "?topic=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
		}
		if n := e.hub.Stats().Subscribers; n != 0 || e.srv.Streams() != 0 {
			t.Errorf("HEAD opened a stream: %d subscriptions, %d streams", n, e.srv.Streams())
		}
	})
}

// Stopping a server leaves nothing running: no push worker, heartbeat
// ticker, hang-up watcher or stream goroutine.
func TestNoGoroutineLeftAfterDrain(t *testing.T) {
	testutil.CheckNoLeaks(t) // once every subtest's server stopped
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.Heartbeat = 50 * time.Millisecond })
		s := e.subscribe("topic=t", nil)
		e.mustPublish(form("topic", "t", "data", "x"))
		s.next(t)
		e.srv.Drain()
		s.ended(t)
	})
}

// A Last-Event-ID obeys the rule of an event ID: no control character at
// all, whether it comes as the header or the query parameter.
func TestSubscribeRefusesControlCharactersInLastEventID(t *testing.T) {
	e := newEnv(t, anonymous)
	cases := map[string]struct {
		query  string
		header http.Header
	}{
		"HT in header": {"topic=a", http.Header{"Last-Event-ID": {"x\ty"}}},
		"ESC in query": {"topic=a&lastEventID=" + url.QueryEscape("x\x1by"), nil},
		"DEL in query": {"topic=a&lastEventID=" + url.QueryEscape("x\x7fy"), nil},
		"C1 in query":  {"topic=a&lastEventID=" + url.QueryEscape("x\u0085y"), nil},
		"LF in query":  {"topic=a&lastEventID=" + url.QueryEscape("x\ny"), nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, status, body := e.trySubscribe(c.query, c.header); status != 400 || !strings.Contains(body, "Last-Event-ID") {
				t.Errorf("got %d %q, want 400 naming Last-Event-ID", status, body)
			}
		})
	}
}

// A subscription's selectors have a cost budget: templates an anonymous
// client crafts to be expensive to hold and match are refused with a 400
// that names the limit, before anything is compiled into the hub.
func TestSelectorCostBudget(t *testing.T) {
	e := newEnv(t, anonymous)
	var costly []string
	for i := range 8 {
		var b strings.Builder
		fmt.Fprintf(&b, "https://attacker.invalid/%d/", i)
		for v := range 16 {
			fmt.Fprintf(&b, "{+v%d:9}", v)
		}
		costly = append(costly, "topic="+url.QueryEscape(b.String()))
	}
	_, status, body := e.trySubscribe(strings.Join(costly, "&"), nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "limit 256") {
		t.Fatalf("costly selectors: %d %q, want 400 naming the limit", status, body)
	}
	if n := e.hub.Stats().Subscribers; n != 0 {
		t.Fatalf("%d subscriptions after a refusal", n)
	}
	// Ordinary selectors fit many times over.
	var ordinary []string
	for i := range 64 {
		ordinary = append(ordinary, "topic="+url.QueryEscape(fmt.Sprintf("https://example.com/%d/{id}", i)))
	}
	e.subscribe(strings.Join(ordinary, "&"), nil)
}

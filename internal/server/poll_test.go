package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/testutil"
)

// pollAnswer is a poll's JSON document.
type pollAnswer struct {
	Events []struct {
		ID     string   `json:"id"`
		Type   string   `json:"type"`
		Topics []string `json:"topics"`
		Data   string   `json:"data"`
		Retry  int64    `json:"retry"`
	} `json:"events"`
	LastEventID string  `json:"lastEventID"`
	More        bool    `json:"more"`
	Earliest    bool    `json:"earliest"`
	MaxWait     float64 `json:"maxWait"`
	Subscriber  string  `json:"subscriber"`
}

func (a pollAnswer) ids() []string {
	var ids []string
	for _, ev := range a.Events {
		ids = append(ids, ev.ID)
	}
	return ids
}

// tryPoll polls with query and header and returns the status, the headers
// and the body.
func (e *hubEnv) tryPoll(query string, header http.Header) (int, http.Header, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"?"+query, nil)
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// poll polls and decodes the answer, failing the test unless it is 200.
func (e *hubEnv) poll(query string, header http.Header) pollAnswer {
	e.t.Helper()
	status, h, body := e.tryPoll(query, header)
	if status != http.StatusOK {
		e.t.Fatalf("poll %s: %d %s", query, status, body)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		e.t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := h.Get("Content-Type"); got != "application/json; charset=utf-8" {
		e.t.Errorf("Content-Type = %q", got)
	}
	var a pollAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		e.t.Fatalf("poll answer %q: %v", body, err)
	}
	return a
}

func TestPollShortAndCursor(t *testing.T) {
	e := newEnv(t, anonymous)
	ids := e.publishN("t", 3)
	waitHead(t, e, ids[2])

	// No cursor: nothing yet, and the cursor is now.
	a := e.poll("topic=t&wait=0", nil)
	if len(a.Events) != 0 || a.LastEventID != ids[2] || a.MaxWait != 30 || a.Earliest || a.More {
		t.Fatalf("first short poll = %+v, want no event and cursor %q", a, ids[2])
	}
	more := e.publishN("t", 2)
	e.mustPublish(form("topic", "other", "data", "not for this poller"))
	typed := e.mustPublish(form("topic", "t", "data", "line1\nline2", "type", "greeting", "retry", "2500"))
	a = e.poll("topic=t&wait=0&lastEventID="+url.QueryEscape(a.LastEventID), nil)
	if want := append(more, typed); !slices.Equal(a.ids(), want) || a.LastEventID != typed {
		t.Fatalf("poll after cursor = %v (cursor %q), want %v", a.ids(), a.LastEventID, want)
	}
	last := a.Events[2]
	if last.Type != "greeting" || last.Data != "line1\nline2" || last.Retry != 2500 || !slices.Equal(last.Topics, []string{"t"}) {
		t.Errorf("event = %+v", last)
	}
	if a.Events[0].Type != "" || a.Events[0].Retry != 0 {
		t.Errorf("plain event = %+v, want no type or retry", a.Events[0])
	}
	// An empty wait ends with the same cursor.
	again := e.poll("topic=t&wait=0.05&lastEventID="+url.QueryEscape(typed), nil)
	if len(again.Events) != 0 || again.LastEventID != typed {
		t.Errorf("empty wait = %+v, want cursor %q kept", again, typed)
	}
	// earliest: everything retained.
	all := e.poll("topic=t&wait=0&lastEventID=earliest", nil)
	if want := append(append(ids, more...), typed); !slices.Equal(all.ids(), want) || all.Earliest {
		t.Errorf("earliest = %v, want %v", all.ids(), want)
	}
}

func TestLongPollHoldsUntilAnEvent(t *testing.T) {
	e := newEnv(t, anonymous)
	start := e.poll("topic=t&wait=0", nil).LastEventID
	got := make(chan pollAnswer, 1)
	go func() { got <- e.poll("topic=t&wait=10&lastEventID="+url.QueryEscape(start), nil) }()
	e.waitStreams(t, 1)
	select {
	case a := <-got:
		t.Fatalf("poll answered before any event: %+v", a)
	default:
	}
	id := e.mustPublish(form("topic", "t", "data", "x"))
	select {
	case a := <-got:
		if !slices.Equal(a.ids(), []string{id}) || a.LastEventID != id {
			t.Fatalf("held poll answered %+v, want %q", a, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held poll not answered within 5s of the event")
	}
	if n := e.srv.Streams(); n != 0 {
		t.Errorf("%d streams left after the poll", n)
	}
}

func TestPollLimitPagesInOrder(t *testing.T) {
	e := newEnv(t, anonymous)
	ids := e.publishN("t", 7)
	cursor, paged := "earliest", []string{}
	for range 10 {
		a := e.poll("topic=t&wait=0&limit=3&lastEventID="+url.QueryEscape(cursor), nil)
		paged = append(paged, a.ids()...)
		cursor = a.LastEventID
		if !a.More {
			break
		}
		if len(a.Events) != 3 {
			t.Fatalf("a page with more has %d events, want 3", len(a.Events))
		}
	}
	if !slices.Equal(paged, ids) {
		t.Fatalf("paged %v, want %v", paged, ids)
	}
}

func TestPollUnknownCursorSaysEarliest(t *testing.T) {
	e := newEnv(t, anonymous)
	ids := e.publishN("t", 2)
	a := e.poll("topic=t&wait=0&lastEventID=no-such-id", nil)
	if !a.Earliest || !slices.Equal(a.ids(), ids) {
		t.Fatalf("unknown cursor = %+v, want earliest and %v", a, ids)
	}
	// On an empty journal the unknown cursor is said too, with nothing.
	empty := newEnv(t, anonymous)
	b := empty.poll("topic=t&wait=0&lastEventID=no-such-id", nil)
	if !b.Earliest || len(b.Events) != 0 || b.LastEventID != "earliest" {
		t.Fatalf("unknown cursor on an empty journal = %+v", b)
	}
}

func TestPollRefusesBadInput(t *testing.T) {
	e := newEnv(t, anonymous)
	for _, q := range []string{
		"topic=t&wait=abc", "topic=t&wait=-1", "topic=t&wait=1e3", "topic=t&wait=NaN", "topic=t&wait=1s",
		"topic=t&wait=0&limit=0", "topic=t&wait=0&limit=1001", "topic=t&wait=0&limit=x",
		"topic=t&wait=0&lastEventID=" + url.QueryEscape("a\nb"), "wait=0",
	} {
		status, h, body := e.tryPoll(q, nil)
		if status != 400 || !strings.Contains(body, "invalid") && !strings.Contains(body, "missing") {
			t.Errorf("%s: %d %q, want 400 naming the problem", q, status, body)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", q, h.Get("Cache-Control"))
		}
	}
	if n := e.srv.Streams(); n != 0 {
		t.Errorf("%d streams left", n)
	}
	// Without --anonymous and a token: 401, as for a stream.
	closed := newEnv(t)
	if status, _, _ := closed.tryPoll("topic=t&wait=0", nil); status != 401 {
		t.Errorf("anonymous poll on a closed hub: %d, want 401", status)
	}
}

func TestPollNegotiation(t *testing.T) {
	// Polls without a wait are held up to the cap: a short one.
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.PollMaxWait = 10 * time.Millisecond })
	for accept, wantJSON := range map[string]bool{
		"":                                    false,
		"text/event-stream":                   false,
		"application/json":                    true,
		"application/json; charset=utf-8":     true,
		"text/event-stream, application/json": false,
		"*/*":                                 false,
	} {
		h := http.Header{}
		if accept != "" {
			h.Set("Accept", accept)
		}
		resp, cancel := e.get("topic=t", h)
		ct := resp.Header.Get("Content-Type")
		resp.Body.Close()
		cancel()
		if isJSON := strings.HasPrefix(ct, "application/json"); isJSON != wantJSON {
			t.Errorf("Accept %q answered %s", accept, ct)
		}
	}
	// A wait asks for a poll whatever Accept says.
	resp, cancel := e.get("topic=t&wait=0", http.Header{"Accept": {"text/event-stream"}})
	defer cancel()
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("wait=0 answered %s", ct)
	}
}

func TestPollPrivateEvents(t *testing.T) {
	e := newEnv(t, anonymous)
	pub := e.mustPublish(form("topic", "t", "data", "public"))
	priv := e.mustPublish(form("topic", "t", "data", "secret", "private", "on"))
	anon := e.poll("topic=t&wait=0&lastEventID=earliest", nil)
	if !slices.Equal(anon.ids(), []string{pub}) {
		t.Errorf("anonymous poll = %v, want only the public %q", anon.ids(), pub)
	}
	granted := e.poll("topic=t&wait=0&lastEventID=earliest", bearer(e.token(auth.MintClaims{Subscribe: []string{"t"}})))
	if !slices.Equal(granted.ids(), []string{pub, priv}) {
		t.Errorf("granted poll = %v, want both", granted.ids())
	}
}

// Pollers chaining cursors while events are published lose nothing and
// see nothing twice.
func TestPollNoLossUnderLoad(t *testing.T) {
	e := newEnv(t, anonymous)
	start := e.poll("topic=t&wait=0", nil).LastEventID
	const n = 300
	var published []string
	var wg sync.WaitGroup
	wg.Go(func() { published = e.publishN("t", n) })
	var got []string
	cursor := start
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		a := e.poll("topic=t&wait=2&limit=7&lastEventID="+url.QueryEscape(cursor), nil)
		got = append(got, a.ids()...)
		cursor = a.LastEventID
	}
	wg.Wait()
	if !slices.Equal(got, published) {
		t.Fatalf("polled %d events, published %d: gap, duplicate or disorder", len(got), len(published))
	}
}

func TestPollResumesAcrossRestart(t *testing.T) {
	var ids []string
	var cursor string
	e2 := restarted(t, func(e *hubEnv) {
		ids = e.publishN("t", 5)
		cursor = e.poll("topic=t&wait=0&limit=2&lastEventID=earliest", nil).LastEventID
	})
	more := e2.publishN("t", 2)
	a := e2.poll("topic=t&wait=0&lastEventID="+url.QueryEscape(cursor), nil)
	if want := append(ids[2:], more...); !slices.Equal(a.ids(), want) {
		t.Fatalf("after restart polled %v, want %v", a.ids(), want)
	}
}

func TestDrainAnswersHeldPolls(t *testing.T) {
	e := newEnv(t, anonymous)
	start := e.poll("topic=t&wait=0", nil).LastEventID
	got := make(chan pollAnswer, 1)
	go func() { got <- e.poll("topic=t&wait=30&lastEventID="+url.QueryEscape(start), nil) }()
	e.waitStreams(t, 1)
	e.srv.Drain()
	select {
	case a := <-got:
		if a.LastEventID != start || len(a.Events) != 0 {
			t.Errorf("drained poll = %+v, want cursor %q kept", a, start)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held poll not answered within 5s of the drain")
	}
}

// A poller is one subscriber for the subscriptions API however many polls
// it makes, and is announced inactive once it stops polling.
func TestPollerPresence(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) {
		c.SubscriptionEvents = true
		c.Clock = clk
		c.PollMaxWait = 10 * time.Second
	})
	watch := "/.well-known/mercure/subscriptions/{topic}/{subscriber}"
	watcher := e.subscribe("topic="+url.QueryEscape(watch), bearer(e.token(auth.MintClaims{Subscribe: []string{watch}})))
	if ev := watcher.next(t); !strings.Contains(string(ev.Data), `"active":true`) {
		t.Fatalf("watcher's own announcement = %s", ev.Data)
	}
	tok := bearer(e.token(auth.MintClaims{Subscribe: []string{"books"}, Payload: map[string]string{"user": "ann"}}))
	first := e.poll("topic=books&wait=0", tok)
	if !strings.HasPrefix(first.Subscriber, "urn:uuid:") {
		t.Fatalf("first poll's subscriber = %q", first.Subscriber)
	}
	ev := watcher.next(t)
	if data := string(ev.Data); !strings.Contains(data, `"active":true`) || !strings.Contains(data, first.Subscriber) || !strings.Contains(data, `"user":"ann"`) {
		t.Fatalf("poller announcement = %s", data)
	}
	for range 3 {
		a := e.poll("topic=books&wait=0&subscriber="+url.QueryEscape(first.Subscriber), tok)
		if a.Subscriber != first.Subscriber {
			t.Fatalf("next poll's subscriber = %q, want %q", a.Subscriber, first.Subscriber)
		}
	}
	// Listed once, by its poller ID.
	body := e.subscriptionsOf("books")
	if n := strings.Count(body, `"subscriber":`); n != 1 || !strings.Contains(body, first.Subscriber) {
		t.Errorf("subscriptions of books list %d subscribers: %s", n, body)
	}
	// Another subject cannot continue ann's presence: it becomes another poller.
	other := e.poll("topic=books&wait=0&subscriber="+url.QueryEscape(first.Subscriber), bearer(e.token(auth.MintClaims{Subject: "bob"})))
	if other.Subscriber == first.Subscriber || other.Subscriber == "" {
		t.Errorf("another subject's poll = %q", other.Subscriber)
	}
	if ev := watcher.next(t); !strings.Contains(string(ev.Data), other.Subscriber) {
		t.Errorf("second poller's announcement = %s", ev.Data)
	}
	// Stopping: both announced inactive once the wait cap and the grace pass.
	clk.Advance(10*time.Second + 31*time.Second)
	clk.Advance(30 * time.Second)
	gone := map[string]bool{}
	for range 2 {
		ev := watcher.next(t)
		if !strings.Contains(string(ev.Data), `"active":false`) {
			t.Fatalf("expected an inactive announcement, got %s", ev.Data)
		}
		var doc struct{ Subscriber string }
		_ = json.Unmarshal(ev.Data, &doc)
		gone[doc.Subscriber] = true
	}
	if !gone[first.Subscriber] || !gone[other.Subscriber] {
		t.Errorf("inactive announcements for %v, want both pollers", gone)
	}
}

// waitStreams waits for the server to hold n streams or polls.
func (e *hubEnv) waitStreams(t *testing.T, n int64) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if got := e.srv.Streams(); got != n {
			return fmt.Errorf("%d streams held, want %d", got, n)
		}
		return nil
	})
}

// subscriptionsOf reads the subscriptions API's list for a selector.
func (e *hubEnv) subscriptionsOf(sel string) string {
	e.t.Helper()
	admin := e.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions{/topic}{/subscriber}"}})
	req, _ := http.NewRequest("GET", e.ts.URL+"/.well-known/mercure/subscriptions/"+url.PathEscape(sel), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// Many held polls, more than the polls that may work at once, are all
// answered by one event: a poll leaves its place while it waits.
func TestManyHeldPollsAllAnswered(t *testing.T) {
	e := newEnv(t, anonymous)
	start := e.poll("topic=t&wait=0", nil).LastEventID
	const n = 50
	got := make(chan pollAnswer, n)
	for range n {
		go func() { got <- e.poll("topic=t&wait=10&lastEventID="+url.QueryEscape(start), nil) }()
	}
	e.waitStreams(t, n)
	id := e.mustPublish(form("topic", "t", "data", "x"))
	for range n {
		select {
		case a := <-got:
			if !slices.Equal(a.ids(), []string{id}) {
				t.Fatalf("answered %v, want %q", a.ids(), id)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a held poll was not answered within 5s of the event")
		}
	}
}

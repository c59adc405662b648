package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

// openRaw opens a stream and returns its response and a reader of its
// bytes.
func (e *hubEnv) openRaw(t *testing.T, query string, header http.Header) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, cancel := e.get(query, header)
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("subscribe %s: %d", query, resp.StatusCode)
	}
	return resp, bufio.NewReader(resp.Body)
}

// openingBlock reads a stream's first block, through its blank line.
func openingBlock(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\n\n") {
		c, err := r.ReadByte()
		if err != nil {
			t.Fatalf("opening block %q: %v", b.String(), err)
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Every stream opens with the retry hint and the subscriber's position as
// its last event ID: the newest event for a new subscriber, the client's
// own ID when resuming, "earliest" when that ID is unknown or the journal
// is empty.
func TestStreamOpensWithPosition(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.RetryHint = 1500 * time.Millisecond })
		_, r := e.openRaw(t, "topic=a", nil)
		if got := openingBlock(t, r); got != "retry: 1500\nid: earliest\n\n" {
			t.Errorf("empty journal: opening %q", got)
		}
		ids := e.publishN("a", 3)
		waitHead(t, e, ids[2])
		for _, c := range []struct{ name, lastEventID, want string }{
			{"new subscriber", "", ids[2]},
			{"resuming", ids[0], ids[0]},
			{"unknown id", "gone", "earliest"},
			{"earliest", "earliest", "earliest"},
		} {
			var h http.Header
			if c.lastEventID != "" {
				h = http.Header{"Last-Event-ID": {c.lastEventID}}
			}
			_, r := e.openRaw(t, "topic=a", h)
			if got, want := openingBlock(t, r), "retry: 1500\nid: "+c.want+"\n\n"; got != want {
				t.Errorf("%s: opening %q, want %q", c.name, got, want)
			}
		}
	})
}

// A client that follows the spec to the letter resets its last event ID
// at every blank line. One that drops right after the opening block, before
// any event, must still resume from the moment it connected: nothing
// published meanwhile is lost.
func TestResumeAfterDropBeforeFirstEvent(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		old := e.publishN("t", 2)
		waitHead(t, e, old[1])

		_, r := e.openRaw(t, "topic=t", nil)
		dec := sse.NewDecoder(strings.NewReader(openingBlock(t, r)))
		if ev, err := dec.Next(); err != io.EOF {
			t.Fatalf("the opening block dispatched %+v, %v", ev, err)
		}
		// The connection drops; events are published while it is down.
		missed := e.mustPublish(form("topic", "t", "data", "while away"))
		var header http.Header
		if id := dec.LastEventID(); id != "" { // a client sends only a non-empty ID
			header = http.Header{"Last-Event-ID": {id}}
		}
		s := e.subscribe("topic=t", header)
		after := e.mustPublish(form("topic", "t", "data", "after"))
		if ev := s.next(t); ev.ID != missed {
			t.Fatalf("after reconnecting, first event %q (%s), want the missed %q", ev.ID, ev.Data, missed)
		}
		if ev := s.next(t); ev.ID != after {
			t.Fatalf("then %q, want %q", ev.ID, after)
		}
	})
}

// waitHead waits until the hub has fanned out the event id.
func waitHead(t *testing.T, e *hubEnv, id string) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := e.hub.HeadID(); got != id {
			return errors.New("hub head " + got + ", want " + id)
		}
		return nil
	})
}

// The position a stream opens with, and its Last-Event-ID header, never
// name a private event the subscriber may not see; it gets the journal's
// own ID of that position, which resumes from the same place.
func TestOpeningPositionHidesPrivateEvents(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		e.mustPublish(form("topic", "t", "data", "public"))
		secret := e.mustPublish(form("topic", "secret", "data", "private", "private", "on", "id", "secret-id"))
		waitHead(t, e, secret)

		resp, r := e.openRaw(t, "topic=t", nil)
		opening := openingBlock(t, r)
		header := resp.Header.Get("Last-Event-ID")
		if strings.Contains(opening, secret) || header == secret {
			t.Fatalf("anonymous subscriber shown the private id: opening %q, header %q", opening, header)
		}
		if !strings.Contains(opening, "id: "+header+"\n") {
			t.Errorf("opening %q and header %q name different positions", opening, header)
		}
		next := e.mustPublish(form("topic", "t", "data", "next"))
		waitHead(t, e, next) // the headers below name the hub's newest event
		s := e.subscribe("topic=t", http.Header{"Last-Event-ID": {header}})
		if ev := s.next(t); ev.ID != next {
			t.Fatalf("resumed from the hidden position at %q, want %q", ev.ID, next)
		}

		granted := bearer(e.token(auth.MintClaims{Subscribe: []string{"secret"}}))
		resp, r = e.openRaw(t, "topic=t", granted)
		if got := resp.Header.Get("Last-Event-ID"); got != next {
			t.Errorf("header %q, want the newest %q", got, next)
		}
		openingBlock(t, r)
	})
}

// An event ID that would break a response head (a journal written before
// control characters were refused may hold one) never reaches one.
func TestControlCharacterIDNeverInHead(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		bad := &journal.Event{ID: "a\vb", Topics: []string{"t"}, Data: []byte("x")}
		if err := e.journal.Append(context.Background(), bad); err != nil {
			t.Fatal(err)
		}
		waitHead(t, e, bad.ID)
		// Herald's own client (net/http) refuses a head with a control
		// character: subscribing at all is the test.
		resp, r := e.openRaw(t, "topic=t", nil)
		if got := resp.Header.Get("Last-Event-ID"); strings.ContainsAny(got, "\v") {
			t.Fatalf("Last-Event-ID header %q", got)
		}
		openingBlock(t, r)
	})
}

// Push streams take their time from the server's clock: heartbeats only
// on quiet streams, and the maximum lifetime, without waiting real time.
func TestPushLifecycleOnClock(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) {
		c.Clock = clk
		c.Heartbeat = 10 * time.Second
		c.RetryHint = -1
		c.MaxLifetime = time.Hour
	})
	_, r := e.openRaw(t, "topic=t", nil)
	if got := openingBlock(t, r); got != "id: earliest\n\n" {
		t.Fatalf("opening %q", got)
	}
	waitStreams(t, e, 1)
	clk.Advance(10 * time.Second)
	readRaw(t, r, ":\n")
	clk.Advance(50 * time.Minute) // within 54 minutes, the jitter's least
	id := e.mustPublish(form("topic", "t", "data", "still open"))
	skipHeartbeats(t, r)
	readRaw(t, r, "id: "+id+"\ndata: still open\n\n")
	clk.Advance(20 * time.Minute) // past 66 minutes, the jitter's most
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.ReplaceAll(string(rest), ":\n", ""); s != "" {
		t.Errorf("the stream ended with %q, want heartbeats at most", rest)
	}
	waitStreams(t, e, 0)
}

// skipHeartbeats reads past the keep-alive comments at the head of r.
func skipHeartbeats(t *testing.T, r *bufio.Reader) {
	t.Helper()
	for {
		b, err := r.Peek(2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != ":\n" {
			return
		}
		r.Discard(2)
	}
}

func waitStreams(t *testing.T, e *hubEnv, n int64) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := e.srv.Streams(); got != n {
			return errors.New("streams: " + strings.Repeat("|", int(got)))
		}
		return nil
	})
}

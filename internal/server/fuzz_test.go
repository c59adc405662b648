package server_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/sse"
)

// quiet keeps a fuzz run's thousands of refusals out of the log.
func quiet(c *serverConfig, _ *hubConfig) { c.Logger = slog.New(slog.DiscardHandler) }

// FuzzPublish posts arbitrary bodies, content types and query strings to
// the publish endpoint, with a token that may publish anywhere or on one
// template only. Bad input must be refused with a 4xx of the publish
// endpoint (400, 403, 409, 413, 415), never a 5xx nor a panic; an accepted
// update must be journaled as the form said, and reach a subscriber as
// published: its frame decodes to the same ID, type, retry and data, line
// endings aside.
func FuzzPublish(f *testing.F) {
	const maxBody = 2048
	e := newEnvWithJournal(f, journal.NewMemory(journal.Retention{MaxEvents: 64}), quiet,
		func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = maxBody })
	tokens := []string{
		e.publisherToken(),
		e.token(auth.MintClaims{Publish: []string{"https://example.com/books/{id}"}}),
	}
	const formType = "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		token       uint8
		contentType string
		query       string
		form        url.Values
	}{
		{0, formType, "", form("topic", "https://example.com/books/1", "data", "line 1\r\nline 2\rline 3\n", "type", "update", "retry", "2500")},
		{0, formType + "; charset=utf-8", "", form("topic", "https://example.com/books/1", "topic", "https://example.com/other", "id", "my-id", "private", "on")},
		{1, formType, "", form("topic", "https://example.com/books/7", "type", "é", "data", "{\"a\": 1}\n\n")},
		{1, formType, "", form("topic", "https://example.com/users/1", "data", " lead")},
		{0, formType, "topic=x", form("topic", "a", "data", "", "private", "TRUE", "retry", "86400000")},
		{0, formType, "", form("topic", "a", "retry", "18446744073709551616")},
		{0, formType, "", form("topic", "a", "id", "x", "id", "y")},
		{0, formType, "", form("topic", "a", "id", "earliest", "type", "bad\ntype")},
		{0, formType, "", form("topic", "/.well-known/mercure/subscriptions/a")},
		{0, formType, "", form("topic", "a", "data", strings.Repeat("x", maxBody))},
		{0, "text/plain", "", form("topic", "a")},
		{0, formType, "%zz", form("topic", "a")},
	} {
		f.Add(seed.token, seed.contentType, seed.query, seed.form.Encode())
	}
	f.Add(uint8(0), formType, "", "topic=a&data=%ff")
	f.Add(uint8(0), formType, "", "topic=a;data=b")
	f.Fuzz(func(t *testing.T, token uint8, contentType, query, body string) {
		req := httptest.NewRequest(http.MethodPost, "/.well-known/mercure", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+tokens[int(token)%len(tokens)])
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			return
		default:
			t.Fatalf("publish %q (%s): %d %s", body, contentType, rec.Code, rec.Body)
		}

		sent, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("publish %q accepted, but the body is not a form: %v", body, err)
		}
		var retry time.Duration
		if v := sent.Get("retry"); v != "" {
			ms, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("publish %q accepted with retry %q", body, v)
			}
			retry = time.Duration(ms) * time.Millisecond
		}
		id := rec.Body.String()
		ev := journaled(t, e.journal, id)
		want := journal.Event{
			ID: cmp.Or(sent.Get("id"), id), Type: sent.Get("type"), Topics: sent["topic"],
			Data: []byte(sent.Get("data")), Retry: retry,
			Private: slices.Contains([]string{"on", "true", "1"}, strings.ToLower(sent.Get("private"))),
		}
		if ev.ID != want.ID || ev.Type != want.Type || !slices.Equal(ev.Topics, want.Topics) ||
			!bytes.Equal(ev.Data, want.Data) || ev.Retry != want.Retry || ev.Private != want.Private {
			t.Fatalf("publish %q journaled\n%#v\nwant\n%#v", body, *ev, want)
		}

		dec := sse.NewDecoder(bytes.NewReader(server.SSEFrame(ev)))
		got, err := dec.Next()
		if err != nil {
			t.Fatalf("the frame of %#v does not decode: %v", *ev, err)
		}
		if _, err := dec.Next(); err != io.EOF {
			t.Fatalf("the frame of %#v holds more than one event (%v)", *ev, err)
		}
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(want.Data))
		if got.ID != want.ID || got.Type != want.Type || string(got.Data) != wantData || got.Retry != want.Retry {
			t.Fatalf("publish %q reaches subscribers as\n%+q\nwant id %q, type %q, data %q, retry %v",
				body, got, want.ID, want.Type, wantData, want.Retry)
		}
	})
}

// journaled returns the event of j with the given ID.
func journaled(t *testing.T, j journal.Journal, id string) *journal.Event {
	t.Helper()
	ctx := context.Background()
	seq, err := j.Lookup(ctx, id)
	if err != nil {
		t.Fatalf("published %q is not in the journal: %v", id, err)
	}
	var ev *journal.Event
	errFound := errors.New("found")
	err = j.Read(ctx, seq-1, func(e *journal.Event) error { ev = e; return errFound })
	if !errors.Is(err, errFound) || ev.Seq != seq {
		t.Fatalf("reading %q at %d: %v, %+v", id, seq, err, ev)
	}
	return ev
}

// FuzzSubscribeQuery sends HEAD requests, which are read and
// authenticated as subscriptions but open no stream, with arbitrary query
// strings and Last-Event-ID headers, and a valid token or none. A request
// must be accepted exactly when nothing is wrong with it, and refused
// with a status that one of its faults calls for: no panic, no 5xx, and
// never a subscription whose selectors are too many, too long, malformed or
// over the cost budget.
func FuzzSubscribeQuery(f *testing.F) {
	const maxSelectors, maxLength, maxCost = 8, 256, 200
	e := newEnv(f, quiet, func(c *serverConfig, _ *hubConfig) {
		c.Anonymous = true
		c.MaxSelectors, c.MaxSelectorLength, c.MaxSelectorCost = maxSelectors, maxLength, maxCost
	})
	token := e.token(auth.MintClaims{Subscribe: []string{"*"}})
	for _, seed := range []struct {
		credentials uint8
		query       string
		lastEventID string
	}{
		{0, "topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D", ""},
		{1, "topic=*&topic=urn:a&lastEventID=earliest", ""},
		{2, "topic=%7Bx%7D%7B%3Fy%2Cz%7D%7B%23w%7D", "urn:herald:x:1"},
		{3, "topic=%7Bx%7D%7B%3Fy%2Cz%7D%7B%23w%7D&topic=%7Ba%7D%7B%3Bb%7D%7B%26c%7D&topic=%7Bx%3A9%7D%7By%3A9%7D", ""},
		{0, "topic=a&topic=b&topic=c&topic=d&topic=e&topic=f&topic=g&topic=h&topic=i", ""},
		{0, "topic=%7B", ""},
		{0, "topic=a%01", ""},
		{0, "topic=a&Last-Event-ID=%0A", ""},
		{0, "topic=a", "bad\x7f"},
		{0, "topic=a&authorization=garbage", ""},
		{1, "topic=a&authorization=x", ""},
		{0, "", ""},
	} {
		f.Add(seed.credentials, seed.query, seed.lastEventID)
	}
	f.Fuzz(func(t *testing.T, credentials uint8, query, lastEventID string) {
		req := httptest.NewRequest(http.MethodHead, "/.well-known/mercure", nil)
		req.URL.RawQuery = query
		if lastEventID != "" {
			req.Header.Set("Last-Event-ID", lastEventID)
		}
		switch credentials % 4 {
		case 1:
			req.Header.Set("Authorization", "Bearer "+token)
		case 2:
			req.URL.RawQuery += "&" + auth.QueryParam + "=" + token
		case 3:
			req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: token})
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)

		faults := subscribeFaults(req, token, maxSelectors, maxLength, maxCost)
		switch {
		case len(faults) == 0 && rec.Code != http.StatusOK:
			t.Fatalf("HEAD ?%s (Last-Event-ID %q): %d %s, want 200", req.URL.RawQuery, lastEventID, rec.Code, rec.Body)
		case len(faults) > 0 && faults[rec.Code] == "":
			t.Fatalf("HEAD ?%s (Last-Event-ID %q): %d %s, want one of %v", req.URL.RawQuery, lastEventID, rec.Code, rec.Body, faults)
		}
	})
}

// subscribeFaults lists what is wrong with a subscribe request by the
// status each fault calls for; it is empty for a request to accept.
func subscribeFaults(r *http.Request, token string, maxSelectors, maxLength, maxCost int) map[int]string {
	faults := map[int]string{}
	topics := r.URL.Query()["topic"]
	switch {
	case len(topics) == 0:
		faults[http.StatusBadRequest] = "no topic"
	case len(topics) > maxSelectors:
		faults[http.StatusBadRequest] = "too many topics"
	}
	for _, topic := range topics {
		if err := journal.ValidateTopic(topic, journal.Limits{MaxTopicLength: maxLength}); err != nil {
			faults[http.StatusBadRequest] = err.Error()
		}
	}
	if set, err := selector.ParseSet(topics); err != nil {
		faults[http.StatusBadRequest] = err.Error()
	} else if set.Cost() > maxCost {
		faults[http.StatusBadRequest] = "cost " + strconv.Itoa(set.Cost())
	}
	switch got, _, err := auth.TokenFromRequest(r); {
	case errors.Is(err, auth.ErrInvalidRequest):
		faults[http.StatusBadRequest] = err.Error()
	case err == nil && got != token:
		faults[http.StatusUnauthorized] = "a token not minted by the test"
	}
	// The Last-Event-ID header wins over the query parameters (Mercure).
	id := r.Header.Get("Last-Event-ID")
	for _, k := range []string{"lastEventID", "Last-Event-ID", "last-event-id", "lastEventId"} {
		if id == "" {
			id = r.URL.Query().Get(k)
		}
	}
	if err := journal.ValidateLastEventID(id); err != nil {
		faults[http.StatusBadRequest] = err.Error()
	}
	return faults
}

// FuzzWebSocket hands arbitrary bytes, in arbitrary pieces, to a socket
// of a real server as its client's input: frames of any shape, messages
// of any content. The socket must never panic; what it refuses ends it
// with a close frame whose code is one of the protocol's, or is answered
// with an error message; whatever it writes is well-formed frames.
func FuzzWebSocket(f *testing.F) {
	e := newEnvWithJournal(f, journal.NewMemory(journal.Retention{MaxEvents: 64}), quiet, anonymous,
		func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = 4096 })
	token := e.token(auth.MintClaims{Subject: "fuzz", Publish: []string{"t", "u/{x}"}, Subscribe: []string{"t"}})
	frame := func(op ws.OpCode, fin bool, payload string) []byte {
		var b bytes.Buffer
		_ = ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewFrame(op, fin, []byte(payload))))
		return b.Bytes()
	}
	for _, msg := range []string{
		`{"op":"subscribe","sub":"a","topics":["t"],"lastEventID":"earliest"}`,
		`{"op":"publish","ref":1,"topics":["t"],"data":"x\ny","type":"t","id":"i","retry":5}`,
		`{"op":"unsubscribe","sub":"a"}`, `{"op":"ping"}`, `{"op":"auth","token":"` + token + `"}`,
		`{"op":"subscribe","sub":"b","topics":["u/{x}","*"]}`, `not json`, `{}`,
	} {
		f.Add(frame(ws.OpText, true, msg), uint8(7))
	}
	f.Add(append(frame(ws.OpText, false, `{"op":`), frame(ws.OpContinuation, true, `"ping"}`)...), uint8(3))
	f.Add(frame(ws.OpPing, true, "hi"), uint8(1))
	f.Add(frame(ws.OpClose, true, "\x03\xe8bye"), uint8(2))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, uint8(4)) // unmasked
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		c, err := e.srv.Socket(token)
		if err != nil {
			t.Skip(err) // the server's connection limits
		}
		defer c.Closed(errors.New("fuzz case over"))
		step := int(piece) + 1
		for len(input) > 0 && c.Err() == nil {
			n := min(step, len(input))
			if err := c.Receive(input[:n]); err != nil && c.Err() == nil {
				t.Fatalf("Receive failed with %v, but the socket did not end", err)
			}
			input = input[n:]
		}
		out := bytes.Join(c.Frames(nil), nil)
		if c.Err() != nil {
			out = append(out, c.Goodbye(c.Err())...)
		}
		r := bytes.NewReader(out)
		for r.Len() > 0 {
			h, err := ws.ReadHeader(r)
			if err != nil || h.Masked || int64(r.Len()) < h.Length {
				t.Fatalf("the socket wrote a malformed frame: %+v, %v", h, err)
			}
			payload := make([]byte, h.Length)
			_, _ = io.ReadFull(r, payload)
			if h.OpCode == ws.OpClose {
				code, _ := ws.ParseCloseFrameData(payload)
				// Herald's own, or a valid one the client sent (echoed).
				if !slices.Contains([]ws.StatusCode{1000, 1001, 1002, 1003, 1007, 1009, 1011, 4401, 4403, 4408}, code) &&
					ws.CheckCloseFrameData(code, "") != nil || code >= 5000 {
					t.Fatalf("close code %d is not the protocol's", code)
				}
			}
		}
	})
}

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

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
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

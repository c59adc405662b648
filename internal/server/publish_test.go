package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
)

func TestPublishDeliversToSubscriber(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, mode)
		sub := e.subscribe("topic=https://example.com/books/1", bearer(e.token(auth.MintClaims{Subscribe: []string{"*"}})))
		if got := sub.resp.Header.Get("Content-Type"); got != "text/event-stream" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := sub.resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("Cache-Control = %q", got)
		}

		id := e.mustPublish(form("topic", "https://example.com/books/1", "data", "line 1\nline 2\r\nline 3 — ünïcødé", "type", "update", "retry", "2500"))
		if !strings.HasPrefix(id, "urn:herald:") {
			t.Errorf("generated id = %q", id)
		}
		ev := sub.next(t)
		if ev.ID != id || ev.Type != "update" || string(ev.Data) != "line 1\nline 2\nline 3 — ünïcødé" || ev.Retry != 2500*time.Millisecond {
			t.Errorf("got %+v (data %q), want id %s type update", ev, ev.Data, id)
		}

		// A publisher-chosen ID is used as is; alternates deliver too.
		id2 := e.mustPublish(form("topic", "https://example.com/other", "topic", "https://example.com/books/1", "data", "x", "id", "my-id-1"))
		if id2 != "my-id-1" {
			t.Errorf("publisher id answered %q", id2)
		}
		if ev := sub.next(t); ev.ID != "my-id-1" || ev.Type != "" {
			t.Errorf("alternate-topic event = %+v", ev)
		}
		// Unrelated topics are not delivered.
		e.mustPublish(form("topic", "https://example.com/books/2", "data", "no"))
		sub.expectNone(t, 100*time.Millisecond)
	})
}

func TestStreamStartsWithRetryHint(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, mode, func(c *serverConfig, _ *hubConfig) { c.RetryHint = 1500 * time.Millisecond; c.Anonymous = true })
		// A plain request, not e.subscribe: its decoder would read the
		// body too, and could take the bytes this test reads raw.
		resp, err := http.Get(e.url + "?topic=a")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("subscribe: %s", resp.Status)
		}
		readRaw(t, resp.Body, "retry: 1500\n\n")
	})
}

func TestPublishRefusesBadInput(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = 4096; c.MaxTopics = 3 })
	tok := e.publisherToken()
	e.mustPublish(form("topic", "t", "id", "taken"))
	cases := []struct {
		name   string
		form   []string
		status int
		msg    string
	}{
		{"missing topic", []string{"data", "x"}, 400, "missing topic"},
		{"empty topic", []string{"topic", ""}, 400, "empty topic"},
		{"control char in topic", []string{"topic", "a\x01b"}, 400, "control characters"},
		{"too many topics", []string{"topic", "a", "topic", "b", "topic", "c", "topic", "d"}, 400, "too many topics"},
		{"LF in id", []string{"topic", "t", "id", "a\nretry: 1"}, 400, "invalid id"},
		{"CR in id", []string{"topic", "t", "id", "a\rb"}, 400, "invalid id"},
		{"NUL in id", []string{"topic", "t", "id", "a\x00b"}, 400, "invalid id"},
		{"LF in type", []string{"topic", "t", "type", "x\ndata: injected"}, 400, "invalid type"},
		{"CR in type", []string{"topic", "t", "type", "x\r"}, 400, "invalid type"},
		{"reserved id", []string{"topic", "t", "id", "urn:herald:abc:1"}, 400, "reserved"},
		{"earliest as id", []string{"topic", "t", "id", "earliest"}, 400, "reserved"},
		{"duplicate id", []string{"topic", "t", "id", "taken"}, 409, "already exists"},
		{"negative retry", []string{"topic", "t", "retry", "-5"}, 400, "invalid retry"},
		{"text retry", []string{"topic", "t", "retry", "soon"}, 400, "invalid retry"},
		{"bad private", []string{"topic", "t", "private", "maybe"}, 400, "invalid private"},
		{"repeated data", []string{"topic", "t", "data", "a", "data", "b"}, 400, "more than once"},
		{"invalid UTF-8 data", []string{"topic", "t", "data", "\xff\xfe"}, 400, "UTF-8"},
		{"hub namespace", []string{"topic", "/.well-known/mercure/subscriptions/x/y"}, 403, "reserved"},
		{"hub namespace absolute", []string{"topic", "https://example.com/.well-known/mercure/subscriptions/x"}, 403, "reserved"},
		{"too large", []string{"topic", "t", "data", strings.Repeat("x", 5000)}, 413, "over 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.publishForm(tok, form(c.form...))
			if status != c.status || !strings.Contains(body, c.msg) {
				t.Errorf("got %d %q, want %d containing %q", status, body, c.status, c.msg)
			}
		})
	}
	// Nothing refused reached the journal.
	var n int
	if err := e.journal.Read(t.Context(), 0, func(*journal.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("journal holds %d events, want only the first", n)
	}
}

func TestPublishNeedsFormContentType(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("POST", e.url, bytes.NewReader([]byte(`{"topic":"t"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.publisherToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("status = %d, want 415", resp.StatusCode)
	}
}

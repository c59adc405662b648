package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
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
		e.nothingBefore(t, sub, "https://example.com/books/1")
	})
}

func TestPublishRefusesBadInput(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, h *hubConfig) { c.MaxBodyBytes = 4096; h.Limits.MaxTopics = 3 })
	tok := e.publisherToken()
	e.mustPublish(form("topic", "t", "id", "taken"))
	cases := []struct {
		name   string
		form   []string
		status int
		msg    string
	}{
		{"missing topic", []string{"data", "x"}, 400, "invalid topic: at least one is required"},
		{"empty topic", []string{"topic", ""}, 400, "invalid topic: must not be empty"},
		{"control char in topic", []string{"topic", "a\x01b"}, 400, "invalid topic: must not contain control characters"},
		{"topic too long", []string{"topic", strings.Repeat("t", 2049)}, 400, "invalid topic: longer than 2048 bytes"},
		{"topic not UTF-8", []string{"topic", "a\xffb"}, 400, "invalid topic: must be valid UTF-8"},
		{"too many topics", []string{"topic", "a", "topic", "b", "topic", "c", "topic", "d"}, 400, "invalid topic: at most 3 per event"},
		{"LF in id", []string{"topic", "t", "id", "a\nretry: 1"}, 400, "invalid id"},
		{"CR in id", []string{"topic", "t", "id", "a\rb"}, 400, "invalid id"},
		{"NUL in id", []string{"topic", "t", "id", "a\x00b"}, 400, "invalid id"},
		{"LF in type", []string{"topic", "t", "type", "x\ndata: injected"}, 400, "invalid type"},
		{"CR in type", []string{"topic", "t", "type", "x\r"}, 400, "invalid type"},
		{"reserved id", []string{"topic", "t", "id", "urn:herald:abc:1"}, 400, "invalid id: the urn:herald: prefix is reserved"},
		{"id too long", []string{"topic", "t", "id", strings.Repeat("i", 1025)}, 400, "invalid id: longer than 1024 bytes"},
		{"id not UTF-8", []string{"topic", "t", "id", "\xc3"}, 400, "invalid id: must be valid UTF-8"},
		{"earliest as id", []string{"topic", "t", "id", "earliest"}, 400, "invalid id: earliest is reserved"},
		{"duplicate id", []string{"topic", "t", "id", "taken"}, 409, "already exists"},
		{"negative retry", []string{"topic", "t", "retry", "-5"}, 400, "invalid retry"},
		{"text retry", []string{"topic", "t", "retry", "soon"}, 400, "invalid retry"},
		{"bad private", []string{"topic", "t", "private", "maybe"}, 400, "invalid private"},
		{"repeated data", []string{"topic", "t", "data", "a", "data", "b"}, 400, "more than once"},
		{"invalid UTF-8 data", []string{"topic", "t", "data", "\xff\xfe"}, 400, "invalid data: must be valid UTF-8"},
		{"hub namespace", []string{"topic", "/.well-known/mercure/subscriptions/x/y"}, 403, "reserved for the hub"},
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

// Every control character, not only the CR, LF and NUL that would break
// the frame, is refused in an id or a type: a terminal, a log line or a
// header that shows the value must not be steered by it.
func TestPublishRefusesControlCharactersInIDAndType(t *testing.T) {
	e := newEnv(t)
	tok := e.publisherToken()
	controls := map[string]string{
		"HT": "\t", "VT": "\x0b", "SOH": "\x01", "ESC": "\x1b", "US": "\x1f",
		"DEL": "\x7f", "PAD (C1)": "\u0080", "NEL (C1)": "\u0085", "APC (C1)": "\u009f",
	}
	for name, c := range controls {
		for _, field := range []string{"id", "type"} {
			t.Run(field+" "+name, func(t *testing.T) {
				status, body := e.publishForm(tok, form("topic", "t", field, "a"+c+"b"))
				if status != http.StatusBadRequest || !strings.Contains(body, "invalid "+field) {
					t.Errorf("got %d %q, want 400 naming %s", status, body, field)
				}
			})
		}
	}
	// The first character past the controls is fine.
	if id := e.mustPublish(form("topic", "t", "id", "a\u00a0b", "type", "x\u00a0y")); id != "a\u00a0b" {
		t.Errorf("id = %q", id)
	}
}

// retry is a number of milliseconds up to 24 hours; a larger one is
// refused, never wrapped around into a small one.
func TestPublishRetryBounds(t *testing.T) {
	e := newEnv(t)
	sub := e.subscribe("topic=t", bearer(e.token(auth.MintClaims{Subscribe: []string{"*"}})))
	e.mustPublish(form("topic", "t", "retry", "86400000"))
	if ev := sub.next(t); ev.Retry != 24*time.Hour {
		t.Errorf("retry 86400000 delivered as %v, want 24h", ev.Retry)
	}
	tok := e.publisherToken()
	for _, v := range []string{"86400001", "18446744073710", "9223372036854775807", "18446744073709551615", "18446744073709551616"} {
		t.Run(v, func(t *testing.T) {
			status, body := e.publishForm(tok, form("topic", "t", "retry", v))
			if status != http.StatusBadRequest || !strings.Contains(body, "invalid retry") {
				t.Errorf("got %d %q, want 400 invalid retry", status, body)
			}
		})
	}
}

// stalled is a journal that cannot take an event: its Append waits for
// its context, as a JetStream journal with no server in reach does.
type stalled struct{ *journal.Memory }

func (stalled) Append(ctx context.Context, _ *journal.Event) error {
	<-ctx.Done()
	return ctx.Err()
}

// Pipelined is false: the hub must call Append, not the memory journal's
// Queue.
func (stalled) Pipelined() bool { return false }

// TestPublishTimeout: a publish the journal cannot take is answered 503
// with a Retry-After once PublishTimeout has passed, not left hanging.
func TestPublishTimeout(t *testing.T) {
	e := newEnvWithJournal(t, stalled{journal.NewMemory(journal.Retention{})}, func(c *serverConfig, _ *hubConfig) {
		c.PublishTimeout = 100 * time.Millisecond
	})
	start := time.Now()
	status, body := e.publishForm(e.publisherToken(), form("topic", "t", "data", "x"))
	if status != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Fatalf("publish to a stalled journal: %d %q after %v", status, body, time.Since(start))
	}
}

// TestPublishRefusesMalformedForms sends bodies and queries that are not
// well-formed forms; each is refused whole, as r.ParseForm refused them.
func TestPublishRefusesMalformedForms(t *testing.T) {
	e := newEnv(t)
	tok := e.publisherToken()
	for _, c := range []struct{ query, body string }{
		{"", "topic=a&data=%zz"},
		{"", "topic=a;data=b"},
		{"", "topic=a" + strings.Repeat("&", 10000)},
		{"x=%zz", "topic=a"},
		{"a;b", "topic=a"},
	} {
		req, _ := http.NewRequest("POST", e.url+"?"+c.query, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "malformed form body") {
			t.Errorf("query %q, body %.40q: %d %q, want 400 malformed form body", c.query, c.body, resp.StatusCode, body)
		}
	}
}

// TestPublishDeclaredLengthReservesNothing: a publish that declares a huge
// body and sends a few bytes costs the hub what it sent, not what it
// declared (with no body limit at all, the hub once allocated the
// declared length up front).
func TestPublishDeclaredLengthReservesNothing(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = math.MaxInt64 })
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000000000\r\n\r\ntopic=a",
		u.Path, u.Host, e.publisherToken())
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body cut short of its declared length: %d, want 400", resp.StatusCode)
	}
	e.mustPublish(form("topic", "t"))
}

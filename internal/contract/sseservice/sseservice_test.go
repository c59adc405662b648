package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/testutil"
)

func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(t, http.MethodGet, h.service.URL, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", resp.Status)
	}
	var status struct{ Capabilities []string }
	if err := json.Unmarshal([]byte(body), &status); err != nil {
		t.Fatalf("GET / body %q: %v", body, err)
	}
	for _, c := range []string{"comments", "headers", "last-event-id", "post", "report",
		"read-timeout", "restart", "event-type-listeners", "204", "bom"} {
		if !slices.Contains(status.Capabilities, c) {
			t.Errorf("capability %q missing from %v", c, status.Capabilities)
		}
	}
}

func TestEvents(t *testing.T) {
	h := newHarness(t)
	loc := h.open(t, nil)
	c := h.stream.Accept(t)
	h.listen(t, loc, "greeting")
	c.Send("data: Hello\n\n")
	c.Send("event: greeting\nid: abc\ndata: Hi\n\n")
	c.Send("event: ignored\ndata: nobody listens\n\n") // no listener: not reported
	c.Send("data: line 1\ndata:line 2\n\n")
	c.Send("id: a\x00bc\ndata: €豆腐\n\n")
	h.expectEvent(t, "message", "Hello", "")
	h.expectEvent(t, "greeting", "Hi", "abc")
	h.expectEvent(t, "message", "line 1\nline 2", "abc")
	h.expectEvent(t, "message", "€豆腐", "abc")

	// Many at once, in order.
	stream, data := fmtEvents(100)
	c.Send(stream)
	for _, d := range data {
		h.expectEvent(t, "message", d, "abc")
	}
}

func TestLinefeedsInSmallChunks(t *testing.T) {
	h := newHarness(t)
	h.open(t, nil)
	c := h.stream.Accept(t)
	for _, b := range []byte("data: Hello\r\ndata: World\r\r\ndata: OK\n\n") {
		c.Send(string(b))
	}
	h.expectEvent(t, "message", "Hello\nWorld", "")
	h.expectEvent(t, "message", "OK", "")
}

func TestComments(t *testing.T) {
	h := newHarness(t)
	h.open(t, nil)
	c := h.stream.Accept(t)
	c.Send(":Hello\n")
	c.Send("data: event\n\n")
	c.Send(": World\n")
	for _, want := range []message{
		{Kind: "comment", Comment: "Hello"},
		{Kind: "event"},
		{Kind: "comment", Comment: "World"},
	} {
		if got := h.calls.Next(t); got.Kind != want.Kind || got.Comment != want.Comment {
			t.Errorf("callback = %v, want %v", got, want)
		}
	}
}

func TestBOM(t *testing.T) {
	h := newHarness(t)
	h.open(t, nil)
	c := h.stream.Accept(t)
	c.Send("\xEF\xBB")
	c.Send("\xBFdata: Hello\n\n")
	c.Send("data: \xEF\xBB\xBFkept\n\n")
	h.expectEvent(t, "message", "Hello", "")
	h.expectEvent(t, "message", "\uFEFFkept", "")
}

func TestLargePayload(t *testing.T) {
	h := newHarness(t)
	h.open(t, nil)
	c := h.stream.Accept(t)
	data := strings.Repeat("x", 1<<20)
	c.Send("data: " + data + "\n\n")
	if _, got, _ := h.calls.NextEvent(t); got != data {
		t.Errorf("got %d bytes, want %d", len(got), len(data))
	}
}

func TestRequest(t *testing.T) {
	h := newHarness(t)
	h.open(t, nil)
	c := h.stream.Accept(t)
	if c.Method != http.MethodGet || c.Header.Get("Accept") != "text/event-stream" ||
		c.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("default request: %s %v", c.Method, c.Header)
	}
	if _, ok := c.Header["Last-Event-Id"]; ok {
		t.Error("Last-Event-ID sent on a first connection without one")
	}

	for _, method := range []string{"POST", "REPORT"} {
		h.open(t, map[string]any{
			"initialDelayMs": 0,
			"method":         method,
			"body":           `{"hello": "world"}`,
			"lastEventId":    "abc",
			"headers": map[string]string{
				"content-type":  "application/json; charset=utf-8",
				"header-name-1": "value-1",
			},
		})
		c := h.stream.Accept(t)
		if c.Method != method || c.Body != `{"hello": "world"}` {
			t.Errorf("request = %s %q, want %s with the body", c.Method, c.Body, method)
		}
		for name, want := range map[string]string{
			"Content-Type":  "application/json; charset=utf-8",
			"Header-Name-1": "value-1",
			"Last-Event-Id": "abc",
		} {
			if got := c.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", method, name, got, want)
			}
		}
		// The body is sent again on reconnection.
		c.Drop()
		if c := h.stream.Accept(t); c.Method != method || c.Body != `{"hello": "world"}` {
			t.Errorf("reconnection = %s %q, want %s with the body", c.Method, c.Body, method)
		}
	}
}

func TestReconnection(t *testing.T) {
	h := newHarness(t)
	h.open(t, map[string]any{"initialDelayMs": 0})
	c := h.stream.Accept(t)
	c.Send("id: abc\ndata: Hello\n\ndata: World\n\nid: def\ndata: unfinished")
	h.expectEvent(t, "message", "Hello", "abc")
	h.expectEvent(t, "message", "World", "abc")
	c.Drop()
	c = h.stream.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "abc" {
		t.Errorf("Last-Event-ID = %q, want abc", got)
	}
	if m := h.calls.Next(t); m.Kind != "error" || m.Error == "" || m.Comment != m.Error {
		t.Errorf("callback after the drop = %v, want an error", m)
	}
	c.Send("data: again\n\nid:\ndata: reset\n\n")
	h.expectEvent(t, "message", "again", "abc")
	h.expectEvent(t, "message", "reset", "")
	c.Drop()
	if c := h.stream.Accept(t); c.Header.Get("Last-Event-ID") != "" {
		t.Errorf("Last-Event-ID = %q after the ID was reset", c.Header.Get("Last-Event-ID"))
	}
}

func TestRestart(t *testing.T) {
	h := newHarness(t)
	loc := h.open(t, map[string]any{"initialDelayMs": 0})
	c := h.stream.Accept(t)
	c.Send("data: Hello\n\n")
	h.expectEvent(t, "message", "Hello", "")
	h.command(t, loc, map[string]any{"command": "restart"})
	c = h.stream.Accept(t)
	c.Send("data: Thanks\n\n")
	h.expectEvent(t, "message", "Thanks", "") // no error in between
}

func TestReadTimeout(t *testing.T) {
	h := newHarness(t)
	h.open(t, map[string]any{"initialDelayMs": 0, "readTimeoutMs": 200})
	c := h.stream.Accept(t)
	c.Send("data: Hello\n\n")
	h.expectEvent(t, "message", "Hello", "")
	if m := h.calls.Next(t); m.Kind != "error" || !strings.Contains(m.Error, "read timeout") {
		t.Errorf("callback = %v, want a read timeout error", m)
	}
	h.stream.Accept(t)
}

func TestStopsOn204(t *testing.T) {
	h := newHarness(t)
	var requests atomic.Int32
	noContent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer noContent.Close()
	loc := h.open(t, map[string]any{"streamUrl": noContent.URL, "initialDelayMs": 0})
	if m := h.calls.Next(t); m.Kind != "error" || !strings.Contains(m.Error, "204") {
		t.Errorf("callback = %v, want a 204 error", m)
	}
	// The stream is over: nothing more happens, and it can still be deleted.
	if resp, _ := h.do(t, http.MethodDelete, loc, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE = %s", resp.Status)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if n := h.calls.Pending(); n != 0 {
		t.Errorf("%d more callbacks after the error", n)
	}
}

func TestRedirects(t *testing.T) {
	h := newHarness(t)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", h.stream.URL)
			w.WriteHeader(status)
		}))
		defer redirect.Close()
		h.open(t, map[string]any{"streamUrl": redirect.URL})
		h.stream.Accept(t).Send("data: hello\n\n")
		h.expectEvent(t, "message", "hello", "")
	}
	for _, location := range []string{"", "missing"} {
		broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if location != "missing" {
				w.Header()["Location"] = []string{location}
			}
			w.WriteHeader(http.StatusTemporaryRedirect)
		}))
		defer broken.Close()
		h.open(t, map[string]any{"streamUrl": broken.URL})
		if m := h.calls.Next(t); m.Kind != "error" {
			t.Errorf("%q Location: callback = %v, want an error", location, m)
		}
	}
}

func TestStreamLifecycle(t *testing.T) {
	h := newHarness(t)
	loc := h.open(t, nil)
	c := h.stream.Accept(t)
	if resp, _ := h.do(t, http.MethodDelete, loc, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE = %s", resp.Status)
	}
	select {
	case <-c.Done(): // the client hung up
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the connection stayed open after DELETE")
	}
	for _, tc := range []struct {
		method, url string
		body        any
		status      int
	}{
		{http.MethodDelete, loc, nil, http.StatusNotFound},
		{http.MethodPost, loc, map[string]any{"command": "restart"}, http.StatusNotFound},
		{http.MethodPost, h.service.URL, map[string]any{"streamUrl": "not a url", "callbackUrl": h.calls.URL()}, http.StatusBadRequest},
		{http.MethodPost, h.service.URL, map[string]any{"streamUrl": h.stream.URL}, http.StatusBadRequest},
		{http.MethodPost, h.service.URL, map[string]any{"streamUrl": h.stream.URL, "callbackUrl": h.calls.URL(), "readTimeoutMs": -1}, http.StatusBadRequest},
	} {
		if resp, body := h.do(t, tc.method, tc.url, tc.body); resp.StatusCode != tc.status {
			t.Errorf("%s %s %v = %s %s, want %d", tc.method, tc.url, tc.body, resp.Status, body, tc.status)
		}
	}
	loc = h.open(t, nil)
	h.stream.Accept(t)
	if resp, _ := h.do(t, http.MethodPost, loc, map[string]any{"command": "dance"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown command = %s, want 400", resp.Status)
	}
}

func TestQuit(t *testing.T) {
	var stderr strings.Builder
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- run(context.Background(), []string{"-port", "0"}, pw, &stderr)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v", err)
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(strings.TrimPrefix(line, "sseservice listening on "))

	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %v, %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodDelete, base+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d, stderr: %s", code, stderr.String())
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the service did not quit")
	}
}

func TestBadFlags(t *testing.T) {
	var stderr strings.Builder
	if code := run(context.Background(), []string{"-port", "x"}, io.Discard, &stderr); code != 2 {
		t.Errorf("run with a bad flag = %d, want 2", code)
	}
}

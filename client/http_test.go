package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestRequestHeaders(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	sub := fastSubscriber(srv.Server)
	sub.Header = http.Header{"Authorization": {"Bearer secret"}, "X-Extra": {"1", "2"}}
	connect(t, sub)
	c := srv.Accept(t)
	h := c.Header
	for name, want := range map[string]string{
		"Accept":        "text/event-stream",
		"Cache-Control": "no-cache",
		"Authorization": "Bearer secret",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := h.Values("X-Extra"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("X-Extra = %q, want [1 2]", got)
	}
	if _, ok := h["Last-Event-Id"]; ok {
		t.Errorf("first request sent Last-Event-ID %q; it has none", h.Get("Last-Event-ID"))
	}
	if c.Method != http.MethodGet || c.Body != "" {
		t.Errorf("request = %s with body %q, want GET without body", c.Method, c.Body)
	}
}

func TestMethodAndBodyResentOnReconnect(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	sub := fastSubscriber(srv.Server)
	sub.Method = "REPORT"
	sub.Body = []byte(`{"hello": "world"}`)
	sub.Header = http.Header{"Content-Type": {"application/json"}}
	read(connect(t, sub))
	c := srv.Accept(t)
	c.Drop()
	for _, c := range []*testutil.ScriptedConn{c, srv.Accept(t)} {
		if c.Method != "REPORT" || c.Body != `{"hello": "world"}` ||
			c.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request = %s %q with Content-Type %q, want REPORT with the JSON body", c.Method, c.Body, c.Header.Get("Content-Type"))
		}
	}
}

func TestFailsForGood(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		target      error
	}{
		{"204 No Content", http.StatusNoContent, "text/event-stream", client.ErrBadStatus},
		{"500", http.StatusInternalServerError, "text/event-stream", client.ErrBadStatus},
		{"wrong type", http.StatusOK, "text/plain", client.ErrBadContentType},
		{"no type", http.StatusOK, "", client.ErrBadContentType},
		{"bad type", http.StatusOK, "text/event-stream/x", client.ErrBadContentType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header()["Content-Type"] = []string{tt.contentType}
				w.WriteHeader(tt.status)
				w.Write([]byte("go away\n"))
			}))
			defer srv.Close()
			var errs errorLog
			sub := fastSubscriber(srv)
			sub.OnError = errs.Add
			st, err := sub.Connect(context.Background())
			if st != nil || !errors.Is(err, tt.target) {
				t.Fatalf("Connect = %v, %v; want no stream and %v", st, err, tt.target)
			}
			if got := errs.Errors(); len(got) != 1 || got[0] != err {
				t.Errorf("OnError got %v, want [%v]", got, err)
			}
			if got := requests.Load(); got != 1 {
				t.Errorf("%d requests, want 1 (no reconnection)", got)
			}
			if tt.target == client.ErrBadStatus {
				var se *client.StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.status {
					t.Fatalf("error %v is not a StatusError with status %d", err, tt.status)
				}
				if tt.status != http.StatusNoContent && se.Message != "go away" {
					t.Errorf("StatusError.Message = %q, want the body", se.Message)
				}
			}
		})
	}
}

func TestContentTypeWithParameters(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "Text/Event-Stream; charset=utf-8")
		w.Write([]byte("data: ok\n\n"))
	}))
	defer srv.Close()
	st := connect(t, fastSubscriber(srv))
	if ev := read(st).Next(t); string(ev.Data) != "ok" {
		t.Errorf("event = %q, want ok", ev.Data)
	}
}

func TestBadStatusOnReconnectCloses(t *testing.T) {
	var refuse atomic.Bool
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if refuse.Load() {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: only\n\n"))
		refuse.Store(true)
	}))
	defer srv.Close()
	st := connect(t, fastSubscriber(srv))
	r := read(st)
	r.Next(t)
	err := r.End(t)
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNoContent {
		t.Fatalf("stream ended with %v, want a 204 StatusError", err)
	}
	if got := st.ReadyState(); got != client.Closed {
		t.Errorf("ReadyState = %v, want CLOSED", got)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
	// A closed stream keeps reporting why it ended.
	if err2 := st.Run(); err2 != err {
		t.Errorf("Run on the ended stream = %v, want %v", err2, err)
	}
}

func TestRedirect(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	target, _ := strings.CutPrefix(srv.URL, "http://127.0.0.1")
	for _, tt := range []struct {
		name     string
		from     string // host of the first URL
		keepAuth bool
	}{
		{"same host", "127.0.0.1", true},
		{"other host", "localhost", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, status := range []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect} {
				redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "http://127.0.0.1"+target+"/events", status)
				}))
				defer redirect.Close()
				sub := fastSubscriber(srv.Server)
				sub.URL = strings.Replace(redirect.URL, "127.0.0.1", tt.from, 1)
				sub.Header = http.Header{"Authorization": {"Bearer secret"}}
				sub.LastEventID = "42"
				st := connect(t, sub)
				c := srv.Accept(t)
				if got := c.Header.Get("Authorization"); (got != "") != tt.keepAuth {
					t.Errorf("%d: Authorization = %q after the redirect, want kept: %v", status, got, tt.keepAuth)
				}
				// Unlike credentials, the resume position is meant for
				// whichever server serves the stream.
				if got := c.Header.Get("Last-Event-ID"); got != "42" {
					t.Errorf("%d: Last-Event-ID = %q after the redirect, want 42", status, got)
				}
				st.Close()
			}
		})
	}
}

func TestRedirectWithoutLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	_, err := fastSubscriber(srv).Connect(context.Background())
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Connect = %v, want a 307 StatusError", err)
	}
}

func TestConnectFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	var errs errorLog
	sub := &client.Subscriber{URL: url, OnError: errs.Add}
	st, err := sub.Connect(context.Background())
	if st != nil || err == nil {
		t.Fatalf("Connect to a closed port = %v, %v; want an error", st, err)
	}
	if got := errs.Errors(); len(got) != 1 {
		t.Errorf("OnError got %v, want the one error", got)
	}
	if _, err := (&client.Subscriber{URL: "::"}).Connect(context.Background()); err == nil {
		t.Error("Connect with a malformed URL succeeded")
	}
}

package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/testutil"
)

// TestUnavailableCarriesRetryAfter checks that every 503 the server sends
// says when to come back: clients (herald's own among them) wait for
// Retry-After, and without it each one guesses.
func TestUnavailableCarriesRetryAfter(t *testing.T) {
	subscribeReq := func(e *hubEnv) *http.Request {
		req := httptest.NewRequest("GET", e.url+"?topic=t", nil)
		req.Header.Set("Authorization", "Bearer "+e.token(subscriberClaims))
		return req
	}
	publishReq := func(e *hubEnv) *http.Request {
		req := httptest.NewRequest("POST", e.url, strings.NewReader("topic=t&data=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+e.publisherToken())
		return req
	}
	readyReq := func(e *hubEnv) *http.Request { return httptest.NewRequest("GET", e.ts.URL+"/readyz", nil) }
	closeJournal := func(_ *testing.T, e *hubEnv) { _ = e.journal.Close() }
	drain := func(_ *testing.T, e *hubEnv) { e.srv.Drain() }

	cases := []struct {
		name    string
		options []option
		// before puts the server in the state that makes req fail.
		before func(t *testing.T, e *hubEnv)
		req    func(e *hubEnv) *http.Request
		// canceled sends req with a context that has already ended.
		canceled bool
	}{
		{name: "readyz while draining", before: drain, req: readyReq},
		{name: "readyz without a journal", before: closeJournal, req: readyReq},
		{name: "subscribe while draining", before: drain, req: subscribeReq},
		{name: "subscribe over the connection limit",
			options: []option{func(c *serverConfig, _ *hubConfig) { c.MaxConnections = 1 }},
			before:  func(_ *testing.T, e *hubEnv) { e.subscribe("topic=t", bearer(e.token(subscriberClaims))) },
			req:     subscribeReq},
		{name: "subscribe without a hub", before: stopHub, req: subscribeReq},
		{name: "publish without a journal", before: closeJournal, req: publishReq},
		{name: "publish canceled", req: publishReq, canceled: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.options...)
			if c.before != nil {
				c.before(t, e)
			}
			req := c.req(e)
			if c.canceled {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("got %d %q, want 503", w.Code, w.Body)
			}
			ra := w.Header().Get("Retry-After")
			if secs, err := strconv.Atoi(ra); err != nil || secs <= 0 {
				t.Errorf("503 %q with Retry-After %q, want a number of seconds", strings.TrimSpace(w.Body.String()), ra)
			}
		})
	}
}

var subscriberClaims = auth.MintClaims{Subscribe: []string{"*"}}

// stopHub closes the journal under the hub and waits until the hub, which
// can no longer follow it, refuses subscriptions.
func stopHub(t *testing.T, e *hubEnv) {
	_ = e.journal.Close()
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		sels, err := selector.ParseSet([]string{"t"})
		if err != nil {
			return err
		}
		sub, err := e.hub.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sels})
		if err == nil {
			sub.Close()
			return fmt.Errorf("the hub still accepts subscriptions")
		}
		return nil
	})
}

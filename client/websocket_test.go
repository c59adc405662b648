package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// closeErrors returns the CloseErrors among errs.
func closeErrors(errs []error) []*client.CloseError {
	var out []*client.CloseError
	for _, err := range errs {
		if ce, ok := errors.AsType[*client.CloseError](err); ok {
			out = append(out, ce)
		}
	}
	return out
}

// A socket closed with 1001 (going away: here its maximum lifetime) is
// reconnected from the cursor.
func TestWebSocketGoingAwayReconnects(t *testing.T) {
	clk := clock.NewFake(time.Now())
	h := startHub(t, journal.Retention{}, func(c *server.Config) {
		c.Clock = clk
		c.MaxLifetime = time.Minute
	})
	var errs errorLog
	sub := h.subscriber(client.TransportWebSocket, "/t")
	sub.OnError = errs.Add
	r := read(connect(t, sub))
	id := h.publish("/t", "0")
	expect(t, r, []string{id}, []string{"0"})

	clk.Advance(2 * time.Minute)
	testutil.CheckFor(t, testutil.WaitTimeout, time.Millisecond, func() error {
		if ces := closeErrors(errs.Errors()); len(ces) != 1 || ces[0].Code != 1001 || !ces[0].Temporary() {
			return fmt.Errorf("close errors %v, want one 1001", ces)
		}
		return nil
	})
	var ids, data []string
	for i := 1; i < 4; i++ {
		data = append(data, fmt.Sprint(i))
		ids = append(ids, h.publish("/t", data[i-1]))
	}
	expect(t, r, ids, data)
}

// A socket closed because its token expired (4401) ends the stream: the
// same token would be refused.
func TestWebSocketTokenExpiredStops(t *testing.T) {
	clk := clock.NewFake(time.Now())
	h := startHub(t, journal.Retention{}, func(c *server.Config) { c.Clock = clk })
	var errs errorLog
	sub := h.subscriber(client.TransportWebSocket, "/t") // a token for an hour
	sub.OnError = errs.Add
	st := connect(t, sub)
	r := read(st)
	id := h.publish("/t", "0")
	expect(t, r, []string{id}, []string{"0"})

	clk.Advance(2 * time.Hour)
	err := r.End(t)
	ce, ok := errors.AsType[*client.CloseError](err)
	if !ok || ce.Code != 4401 || ce.Temporary() || ce.Reason == "" {
		t.Fatalf("stream ended with %v, want a 4401 CloseError with a reason", err)
	}
	if got := st.ReadyState(); got != client.Closed {
		t.Errorf("ReadyState = %v, want CLOSED", got)
	}
	if got := errs.Errors(); len(got) != 1 || got[0] != err {
		t.Errorf("OnError got %v, want only the error that ended the stream", got)
	}
}

// A message over the hub's limit closes the socket with 1009, which no
// new connection would change.
func TestWebSocketTooBigStops(t *testing.T) {
	h := startHub(t, journal.Retention{}, func(c *server.Config) { c.MaxBodyBytes = 256 })
	sub := h.subscriber(client.TransportWebSocket, "/"+strings.Repeat("t", 300))
	_, err := sub.Connect(t.Context())
	ce, ok := errors.AsType[*client.CloseError](err)
	if !ok || ce.Code != 1009 || ce.Temporary() {
		t.Fatalf("Connect with a subscribe message over the limit = %v, want a 1009 CloseError", err)
	}
}

func TestCloseErrorTemporary(t *testing.T) {
	for code, temporary := range map[int]bool{
		1000: true, 1001: true, 1011: true, 4408: true, // reconnect
		1002: false, 1003: false, 1007: false, 1009: false, 4401: false, 4403: false, // change first
	} {
		if got := (&client.CloseError{Code: code}).Temporary(); got != temporary {
			t.Errorf("CloseError %d: Temporary() = %v, want %v", code, got, temporary)
		}
	}
}

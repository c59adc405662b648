package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
)

// A server draining for a restart (or over its connection limit) answers a
// reconnection with 503 and Retry-After: the stream waits that long and
// comes back, where a 204 or a 4xx would end it.
func TestTemporaryStatusOnReconnect(t *testing.T) {
	var n atomic.Int32
	var refused, retried atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1: // first connection: one event, then the node drains
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "retry: 10\nid: 1\ndata: a\n\n")
		case 2: // reconnect hits a draining node
			refused.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		default: // the next attempt works
			retried.CompareAndSwap(0, time.Now().UnixNano())
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "id: 2\ndata: b\n\n")
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := (&client.Subscriber{URL: srv.URL}).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []string
	for ev, err := range st.Events() {
		if err != nil {
			t.Fatalf("stream ended for good after %v: %v (attempts: %d)", got, err, n.Load())
		}
		if got = append(got, ev.ID); len(got) == 2 {
			if waited := time.Duration(retried.Load() - refused.Load()); waited < time.Second {
				t.Errorf("reconnected %v after a 503 with Retry-After: 1", waited)
			}
			return
		}
	}
}

package client_test

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

// reader reads a stream's events on a goroutine of its own.
type reader struct {
	events chan sse.Event
	done   chan error
}

func read(st *client.Stream) *reader {
	r := &reader{events: make(chan sse.Event, 100), done: make(chan error, 1)}
	go func() {
		for ev, err := range st.Events() {
			if err != nil {
				r.done <- err
				return
			}
			r.events <- ev
		}
		r.done <- nil
	}()
	return r
}

// Next returns the next event.
func (r *reader) Next(t testing.TB) sse.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case err := <-r.done:
		t.Fatalf("stream ended (%v) while an event was expected", err)
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("no event")
	}
	return sse.Event{}
}

// End returns the error the iteration ended with.
func (r *reader) End(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case ev := <-r.events:
		t.Fatalf("unexpected event %+v while the end was expected", ev)
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the stream did not end")
	}
	return nil
}

// errorLog collects the errors given to OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) Add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) Errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// fastSubscriber returns a Subscriber for srv that reconnects at once.
func fastSubscriber(srv *httptest.Server) *client.Subscriber {
	return &client.Subscriber{
		URL:          srv.URL,
		HTTPClient:   srv.Client(),
		InitialRetry: time.Millisecond,
		MaxRetry:     10 * time.Millisecond,
	}
}

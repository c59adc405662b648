package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/sse"
)

// waitTime bounds every wait for something that should happen promptly.
const waitTime = 5 * time.Second

// checkFor calls fn every interval until it returns nil, failing the test
// with fn's last error after timeout.
func checkFor(t testing.TB, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(interval)
	}
}

// checkNoLeak fails the test if, by the end of it, goroutines started
// during it are still running. Register it first so that it runs after the
// other cleanups (servers closed, streams closed).
func checkNoLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		checkFor(t, waitTime, 10*time.Millisecond, func() error {
			if n := runtime.NumGoroutine(); n > base {
				buf := make([]byte, 1<<16)
				return fmt.Errorf("%d goroutines left behind:\n%s", n-base, buf[:runtime.Stack(buf, true)])
			}
			return nil
		})
	})
}

// request is what the stream server saw of one request.
type request struct {
	Method string
	Header http.Header
	Body   string
}

// serverConn is one connection to a streamServer, driven by the test.
type serverConn struct {
	req  request
	send chan string
	drop chan struct{}
	once sync.Once
}

// Send writes data to the connection and flushes it.
func (c *serverConn) Send(data string) { c.send <- data }

// Drop ends the response, which the client sees as the end of the stream.
func (c *serverConn) Drop() { c.once.Do(func() { close(c.drop) }) }

// streamServer is an event-stream server whose connections the test
// scripts one by one.
type streamServer struct {
	*httptest.Server
	conns chan *serverConn
}

func newStreamServer(t *testing.T) *streamServer {
	s := &streamServer{conns: make(chan *serverConn, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := &serverConn{
		req:  request{Method: r.Method, Header: r.Header.Clone(), Body: string(body)},
		send: make(chan string),
		drop: make(chan struct{}),
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	s.conns <- c
	for {
		select {
		case data := <-c.send:
			if _, err := io.WriteString(w, data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case <-c.drop:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// Accept returns the next connection.
func (s *streamServer) Accept(t testing.TB) *serverConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(waitTime):
		t.Fatal("no connection")
		return nil
	}
}

// NoConnection fails the test if a connection is waiting.
func (s *streamServer) NoConnection(t testing.TB) {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Fatalf("unexpected connection: %+v", c.req)
	default:
	}
}

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
	case <-time.After(waitTime):
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
	case <-time.After(waitTime):
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

// WaitFor waits until an error matching target has been reported.
func (l *errorLog) WaitFor(t testing.TB, target error) {
	t.Helper()
	checkFor(t, waitTime, time.Millisecond, func() error {
		for _, err := range l.Errors() {
			if errors.Is(err, target) {
				return nil
			}
		}
		return fmt.Errorf("no %v among %v", target, l.Errors())
	})
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

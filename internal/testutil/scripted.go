package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// ScriptedServer is an event-stream server whose connections the test
// drives one by one. It answers every request at once with 200 and
// Content-Type text/event-stream; the test then takes the connection with
// [ScriptedServer.Accept], looks at the request it came with, and sends it
// raw stream text or drops it. Nothing is sent unless the test sends it.
type ScriptedServer struct {
	*httptest.Server
	conns chan *ScriptedConn
	quit  chan struct{} // closed when the test ends: every response returns
}

// NewScriptedServer starts a ScriptedServer on loopback. It is closed when
// the test ends, its open responses ended first.
func NewScriptedServer(t testing.TB) *ScriptedServer {
	s := &ScriptedServer{conns: make(chan *ScriptedConn), quit: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.quit)
		s.CloseClientConnections() // also a write blocked on a client that stopped reading
		s.Close()
	})
	return s
}

// Accept returns the next connection that arrives, failing the test if
// none does within [WaitTimeout]. Connections are accepted in the order
// they arrived; each waits, its response headers sent, until the test
// accepts it.
func (s *ScriptedServer) Accept(t testing.TB) *ScriptedConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(WaitTimeout):
		t.Fatalf("no connection to the scripted server within %v", WaitTimeout)
		return nil
	}
}

func (s *ScriptedServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u := *r.URL
	c := &ScriptedConn{
		Method: r.Method, URL: &u, Header: r.Header.Clone(), Body: string(body),
		send: make(chan string), sent: make(chan struct{}), drop: make(chan struct{}), done: make(chan struct{}),
	}
	defer close(c.done)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	select {
	case s.conns <- c:
	case <-r.Context().Done():
		return
	case <-s.quit:
		return
	}
	for {
		select {
		case text := <-c.send:
			if _, err := io.WriteString(w, text); err != nil || rc.Flush() != nil {
				return
			}
			c.sent <- struct{}{}
		case <-c.drop:
			return
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		}
	}
}

// ScriptedConn is one connection to a [ScriptedServer]: a response that
// stays open until the test drops it, the client hangs up or the test ends.
type ScriptedConn struct {
	// Method, URL, Header and Body are those of the request that opened
	// the connection.
	Method string
	URL    *url.URL
	Header http.Header
	Body   string

	send     chan string
	sent     chan struct{}
	drop     chan struct{}
	dropOnce sync.Once
	done     chan struct{}
}

// Send writes text to the stream as it is, which need not end at an event
// boundary, and flushes it. It returns once the text is written, or when
// the response is over, in which case the text is lost.
func (c *ScriptedConn) Send(text string) {
	select {
	case c.send <- text:
	case <-c.done:
		return
	}
	select {
	case <-c.sent:
	case <-c.done:
	}
}

// Drop ends the response, which the client sees as the end of the stream.
// Dropping twice is harmless.
func (c *ScriptedConn) Drop() { c.dropOnce.Do(func() { close(c.drop) }) }

// Done returns a channel that is closed once the response is over, whether
// the test dropped it, the client hung up or the server closed.
func (c *ScriptedConn) Done() <-chan struct{} { return c.done }

package testutil

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestScriptedServer(t *testing.T) {
	srv := NewScriptedServer(t)
	req, err := http.NewRequest("REPORT", srv.URL+"/events?topic=a", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Last-Event-ID", "42")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("response %s, Content-Type %q; want 200 and an event stream", resp.Status, resp.Header.Get("Content-Type"))
	}

	c := srv.Accept(t)
	if c.Method != "REPORT" || c.URL.Path != "/events" || c.URL.Query().Get("topic") != "a" ||
		c.Header.Get("Last-Event-ID") != "42" || c.Body != `{"x":1}` {
		t.Errorf("request seen as %s %v, Last-Event-ID %q, body %q", c.Method, c.URL, c.Header.Get("Last-Event-ID"), c.Body)
	}

	// What is sent arrives as it is, even in the middle of a line.
	body := bufio.NewReader(resp.Body)
	for _, text := range []string{"data: par", "tial\n\n"} {
		c.Send(text)
		got := make([]byte, len(text))
		if _, err := io.ReadFull(body, got); err != nil || string(got) != text {
			t.Fatalf("read %q, %v; want %q", got, err, text)
		}
	}

	c.Drop()
	c.Drop()
	if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
		t.Errorf("after Drop: read %q, %v; want the end of the body", rest, err)
	}
	waitClosed(t, c.Done())
	c.Send("data: too late\n\n") // returns: the response is over
}

func TestScriptedServerClientHangsUp(t *testing.T) {
	srv := NewScriptedServer(t)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Accept(t)
	resp.Body.Close()
	waitClosed(t, c.Done())
}

// The test ends with a connection open and others not accepted, their
// clients still there: the server's cleanup ends them all and leaves no
// goroutine behind.
func TestScriptedServerClosesOpenResponses(t *testing.T) {
	CheckNoLeaks(t)
	var bodies []io.Closer
	t.Cleanup(func() { // after the server's cleanup
		for _, b := range bodies {
			b.Close()
		}
	})
	srv := NewScriptedServer(t)
	for range 3 {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	srv.Accept(t).Send(": open\n")
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(WaitTimeout):
		t.Fatal("the response is not over")
	}
}

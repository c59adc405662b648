package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/testutil"
)

// accessLog turns the access log on, into a buffer of JSON lines.
func accessLog(buf *testutil.SyncBuffer) option {
	return func(c *serverConfig, _ *hubConfig) {
		c.AccessLog = true
		c.Logger = slog.New(slog.NewJSONHandler(buf, nil))
	}
}

// accessLine is a line of the access log.
type accessLine struct {
	Msg       string  `json:"msg"`
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	Duration  float64 `json:"duration"`
	Remote    string  `json:"remote"`
	RequestID string  `json:"request_id"`
	Hijacked  bool    `json:"hijacked"`
}

// accessLines returns the access log's lines so far.
func accessLines(t *testing.T, buf *testutil.SyncBuffer) []accessLine {
	t.Helper()
	var lines []accessLine
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue // nothing logged yet
		}
		var a accessLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if a.Msg == "request" {
			lines = append(lines, a)
		}
	}
	return lines
}

// waitAccess waits for the access log line of the request with ID id.
func waitAccess(t *testing.T, buf *testutil.SyncBuffer, id string) accessLine {
	t.Helper()
	var got accessLine
	testutil.CheckFor(t, testutil.WaitTimeout, 5*time.Millisecond, func() error {
		for _, l := range accessLines(t, buf) {
			if l.RequestID == id {
				got = l
				return nil
			}
		}
		return fmt.Errorf("no access log line with request_id %q in %s", id, buf)
	})
	return got
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestAccessLogRequest(t *testing.T) {
	var buf testutil.SyncBuffer
	e := newEnv(t, accessLog(&buf))

	resp, body := get(t, e.ts.URL+"/healthz", http.Header{"X-Request-Id": {"req-42"}})
	if got := resp.Header.Get("X-Request-ID"); got != "req-42" {
		t.Errorf("X-Request-ID = %q, want the client's req-42", got)
	}
	l := waitAccess(t, &buf, "req-42")
	if l.Method != "GET" || l.Path != "/healthz" || l.Status != 200 || l.Bytes != int64(len(body)) || l.Remote == "" || l.Duration <= 0 || l.Hijacked {
		t.Errorf("line %+v; want GET /healthz 200 with %d bytes, a remote address and a duration", l, len(body))
	}

	// A refused publish is logged with its status; the query, which may
	// carry a token, is not logged at all.
	resp, err := http.PostForm(e.url+"?authorization=secret-token", url.Values{"topic": {"t"}, "data": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	l = waitAccess(t, &buf, resp.Header.Get("X-Request-ID"))
	if l.Method != "POST" || l.Path != "/.well-known/mercure" || l.Status != http.StatusUnauthorized {
		t.Errorf("line %+v; want POST /.well-known/mercure 401", l)
	}
	if strings.Contains(buf.String(), "secret-token") {
		t.Errorf("the query's token is logged:\n%s", buf.String())
	}
}

func TestAccessLogRequestID(t *testing.T) {
	var buf testutil.SyncBuffer
	e := newEnv(t, accessLog(&buf))
	for _, incoming := range []string{
		"",
		strings.Repeat("a", 129),    // too long
		"abc def",                   // a space
		"abc\"def",                  // a quote
		"ab\u00e9",                  // not ASCII
		`<script>alert(1)</script>`, // markup
		"a,b",                       // a list
		"a;b=c",                     // a parameter
	} {
		resp, _ := get(t, e.ts.URL+"/healthz", http.Header{"X-Request-Id": {incoming}})
		id := resp.Header.Get("X-Request-ID")
		if id == incoming || len(id) != 26 {
			t.Errorf("incoming %q: X-Request-ID %q, want a new one of 26 characters", incoming, id)
			continue
		}
		waitAccess(t, &buf, id)
	}
	for _, kept := range []string{
		"0b8c5b8e-7b2f-4c8e-9f3a-2d6f1e0a9c11",
		"1-5759e988-bd862e3fe1be46a994272793",
		"Zm9vYmFy+/=",
		strings.Repeat("a", 128),
	} {
		resp, _ := get(t, e.ts.URL+"/healthz", http.Header{"X-Request-Id": {kept}})
		if id := resp.Header.Get("X-Request-ID"); id != kept {
			t.Errorf("incoming %q: X-Request-ID %q, want it kept", kept, id)
		}
	}
}

// TestAccessLogStreams: a push stream is logged when it starts (its
// connection is hijacked and handed on), a goroutine stream when it ends.
func TestAccessLogStreams(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		var buf testutil.SyncBuffer
		e := newEnv(t, mode, accessLog(&buf))
		s := e.subscribe("topic=t", http.Header{"Authorization": {"Bearer " + e.token(auth.MintClaims{Subscribe: []string{"*"}})}})
		id := s.resp.Header.Get("X-Request-ID")
		if id == "" {
			t.Fatal("the stream's answer has no X-Request-ID")
		}
		e.mustPublish(url.Values{"topic": {"t"}, "data": {"hello"}})
		s.next(t)

		// A request made now is logged after the stream's start.
		resp, _ := get(t, e.ts.URL+"/healthz", nil)
		waitAccess(t, &buf, resp.Header.Get("X-Request-ID"))
		pushed := false
		for _, l := range accessLines(t, &buf) {
			if l.RequestID == id {
				pushed = true
				if !l.Hijacked || l.Status != 200 || l.Path != "/.well-known/mercure" {
					t.Errorf("push stream's line %+v; want 200, hijacked", l)
				}
			}
		}
		if want := push.Supported && !strings.Contains(t.Name(), "goroutine"); pushed != want {
			t.Fatalf("stream logged before it ended: %v, want %v (push stream)\n%s", pushed, want, buf.String())
		}
		if pushed {
			return
		}
		s.close()
		l := waitAccess(t, &buf, id)
		if l.Hijacked || l.Status != 200 || l.Bytes < int64(len("data: hello")) {
			t.Errorf("goroutine stream's line %+v; want 200 with the event's bytes, not hijacked", l)
		}
	})
}

func TestAccessLogWebSocket(t *testing.T) {
	var buf testutil.SyncBuffer
	e := newEnv(t, accessLog(&buf), func(c *serverConfig, _ *hubConfig) { c.Anonymous = true })

	var id string
	d := ws.Dialer{
		Protocols: []string{"herald.v1"},
		Header:    ws.HandshakeHeaderHTTP(http.Header{"X-Request-Id": {"ws-1"}}),
		OnHeader: func(key, value []byte) error {
			if http.CanonicalHeaderKey(string(key)) == "X-Request-Id" {
				id = string(value)
			}
			return nil
		},
		Timeout: 5 * time.Second,
	}
	conn, _, _, err := d.Dial(t.Context(), "ws"+strings.TrimPrefix(e.url, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if id != "ws-1" {
		t.Errorf("the upgrade's X-Request-ID = %q, want ws-1", id)
	}
	if l := waitAccess(t, &buf, "ws-1"); l.Status != http.StatusSwitchingProtocols || !l.Hijacked {
		t.Errorf("line %+v; want 101, hijacked", l)
	}

	// An upgrade the upgrader refuses on the hijacked connection (no
	// Sec-WebSocket-Key) is logged with the status it answered.
	resp, _ := get(t, e.url, http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Protocol": {"herald.v1"}, "X-Request-Id": {"ws-2"},
	})
	if l := waitAccess(t, &buf, "ws-2"); l.Status != resp.StatusCode || resp.StatusCode < 400 || !l.Hijacked {
		t.Errorf("refused upgrade answered %d, logged %+v", resp.StatusCode, l)
	}
}

func TestAccessLogOff(t *testing.T) {
	var buf testutil.SyncBuffer
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	resp, _ := get(t, e.ts.URL+"/healthz", http.Header{"X-Request-Id": {"req-1"}})
	if id := resp.Header.Get("X-Request-ID"); id != "" {
		t.Errorf("X-Request-ID %q with the access log off", id)
	}
	if strings.Contains(buf.String(), "req-1") {
		t.Errorf("logged with the access log off: %s", buf.String())
	}
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsClient is a herald.v1 client on gobwas/ws, reading every message on a
// goroutine of its own.
type wsClient struct {
	t      testing.TB
	conn   net.Conn
	rw     io.ReadWriter
	msgs   chan wsMsg
	closed chan error // the close frame's error (wsutil.ClosedError) or a read error
}

// wsMsg is any message the server sends.
type wsMsg struct {
	Op          string          `json:"op"`
	Sub         string          `json:"sub"`
	Ref         json.RawMessage `json:"ref"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Topics      []string        `json:"topics"`
	Data        string          `json:"data"`
	LastEventID string          `json:"lastEventID"`
	Earliest    bool            `json:"earliest"`
	Expires     *string         `json:"expires"`
	Code        int             `json:"code"`
	Error       string          `json:"error"`
}

type readWriter struct {
	io.Reader
	io.Writer
}

// dialWS opens a socket on the hub URL with header.
func (e *hubEnv) dialWS(header http.Header) *wsClient {
	e.t.Helper()
	c, err := e.tryDialWS(header)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *hubEnv) tryDialWS(header http.Header) (*wsClient, error) {
	c, err := e.dialWSPaused(header)
	if err == nil {
		go c.read()
	}
	return c, err
}

// dialWSPaused opens a socket and reads nothing until go c.read().
func (e *hubEnv) dialWSPaused(header http.Header) (*wsClient, error) {
	d := ws.Dialer{Protocols: []string{"herald.v1"}, Header: ws.HandshakeHeaderHTTP(header), Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(e.url, "http"))
	if err != nil {
		return nil, err
	}
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	c := &wsClient{t: e.t, conn: conn, rw: readWriter{r, conn}, msgs: make(chan wsMsg, 4096), closed: make(chan error, 1)}
	e.t.Cleanup(func() { conn.Close() })
	return c, nil
}

func (c *wsClient) read() {
	defer close(c.msgs)
	for {
		data, _, err := wsutil.ReadServerData(c.rw)
		if err != nil {
			c.closed <- err
			return
		}
		var m wsMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.closed <- fmt.Errorf("message %q: %v", data, err)
			return
		}
		c.msgs <- m
	}
}

// send sends one JSON message (a string is sent as is).
func (c *wsClient) send(v any) {
	c.t.Helper()
	b, ok := v.(string)
	if !ok {
		j, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		b = string(j)
	}
	if err := wsutil.WriteClientText(c.conn, []byte(b)); err != nil {
		c.t.Fatal(err)
	}
}

// sendAll sends JSON messages in one write, so that the server reads
// them together.
func (c *wsClient) sendAll(vs ...any) {
	c.t.Helper()
	var buf bytes.Buffer
	for _, v := range vs {
		j, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := wsutil.WriteClientText(&buf, j); err != nil {
			c.t.Fatal(err)
		}
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message or fails after a timeout.
func (c *wsClient) next() wsMsg {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("socket ended: %v", <-c.closed)
		}
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatal("no message within 5s")
	}
	return wsMsg{}
}

// expect returns the next message, which must have op.
func (c *wsClient) expect(op string) wsMsg {
	c.t.Helper()
	m := c.next()
	if m.Op != op {
		c.t.Fatalf("got %+v, want op %q", m, op)
	}
	return m
}

// closedWith waits for the close frame and checks its code.
func (c *wsClient) closedWith(code ws.StatusCode) {
	c.t.Helper()
	c.untilClosed(code)
}

// untilClosed returns the messages before the close frame, whose code it
// checks.
func (c *wsClient) untilClosed(code ws.StatusCode) []wsMsg {
	c.t.Helper()
	var before []wsMsg
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if ok {
				before = append(before, m)
				continue
			}
			err := <-c.closed
			var ce wsutil.ClosedError
			if !errors.As(err, &ce) {
				c.t.Fatalf("socket ended with %v, want close code %d", err, code)
			}
			if ce.Code != code {
				c.t.Fatalf("close code %d (%s), want %d", ce.Code, ce.Reason, code)
			}
			return before
		case <-deadline:
			c.t.Fatalf("socket not closed within 5s, want code %d", code)
		}
	}
}

// subscribe subscribes sub to topics and returns the subscribed reply.
func (c *wsClient) subscribe(sub string, lastEventID string, topics ...string) wsMsg {
	c.t.Helper()
	c.send(map[string]any{"op": "subscribe", "sub": sub, "topics": topics, "lastEventID": lastEventID})
	m := c.expect("subscribed")
	if m.Sub != sub {
		c.t.Fatalf("subscribed %q, want %q", m.Sub, sub)
	}
	return m
}

// events reads n events.
func (c *wsClient) events(n int) []wsMsg {
	c.t.Helper()
	out := make([]wsMsg, 0, n)
	for range n {
		out = append(out, c.expect("event"))
	}
	return out
}

func eventIDs(ms []wsMsg) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestWebSocketSubscribeResumeUnsubscribe(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		ids := e.publishN("t", 5)
		waitHead(t, e, ids[4])
		c := e.dialWS(nil)
		live := c.subscribe("live", "", "t")
		if live.LastEventID != ids[4] || live.Earliest {
			t.Errorf("live subscribed = %+v, want position %q", live, ids[4])
		}
		resumed := c.subscribe("resumed", ids[1], "t")
		if resumed.LastEventID != ids[1] {
			t.Errorf("resumed subscribed = %+v", resumed)
		}
		got := c.events(3)
		if !slices.Equal(eventIDs(got), ids[2:]) || got[0].Sub != "resumed" || got[0].Data != "2" || !slices.Equal(got[0].Topics, []string{"t"}) {
			t.Fatalf("replay = %+v, want %v for resumed", got, ids[2:])
		}
		id := e.mustPublish(form("topic", "t", "data", "x", "type", "greeting"))
		two := c.events(2)
		subs := []string{two[0].Sub, two[1].Sub}
		slices.Sort(subs)
		if !slices.Equal(subs, []string{"live", "resumed"}) || two[0].ID != id || two[1].ID != id || two[0].Type != "greeting" {
			t.Fatalf("live event = %+v, want %q for both subscriptions", two, id)
		}
		c.send(`{"op":"unsubscribe","sub":"live"}`)
		if m := c.expect("unsubscribed"); m.Sub != "live" {
			t.Fatalf("unsubscribed %+v", m)
		}
		marker := e.mustPublish(form("topic", "t", "data", "marker"))
		if m := c.expect("event"); m.Sub != "resumed" || m.ID != marker {
			t.Fatalf("after unsubscribe got %+v, want only resumed's marker", m)
		}
		unknown := c.subscribe("unknown", "no-such-id", "t")
		if !unknown.Earliest || unknown.LastEventID != "earliest" {
			t.Errorf("unknown cursor subscribed = %+v, want earliest", unknown)
		}
	})
}

// Publishes pipelined on one socket are acknowledged in order, each with
// its event's ID, and stored in that order.
func TestWebSocketPublishPipelined(t *testing.T) {
	e := newEnv(t, anonymous)
	c := e.dialWS(bearer(e.token(auth.MintClaims{Publish: []string{"t"}})))
	sse := e.subscribe("topic=t", nil)
	const n = 500
	for i := range n {
		c.send(map[string]any{"op": "publish", "ref": i, "topics": []string{"t"}, "data": fmt.Sprint(i)})
	}
	var acked []string
	for i := range n {
		m := c.expect("ack")
		if string(m.Ref) != fmt.Sprint(i) || m.ID == "" {
			t.Fatalf("ack %d = %+v", i, m)
		}
		acked = append(acked, m.ID)
	}
	for i, id := range acked {
		if ev := sse.next(t); ev.ID != id || string(ev.Data) != fmt.Sprint(i) {
			t.Fatalf("stored event %d = %q %q, want %q", i, ev.ID, ev.Data, id)
		}
	}
	// A string ref is echoed too; a chosen ID is kept; private works.
	c.send(`{"op":"publish","ref":"x","topics":["t"],"data":"p","id":"chosen-1","private":true,"retry":1500}`)
	if m := c.expect("ack"); string(m.Ref) != `"x"` || m.ID != "chosen-1" {
		t.Fatalf("ack = %+v", m)
	}
}

// Publishes that arrive in one read are stored together, and every answer
// keeps the order of the requests: an ack or an error for each publish,
// and a request of another kind answered after the publishes before it.
// On the durable journal, whose commits the publishes share.
func TestWebSocketPublishBatchInOrder(t *testing.T) {
	j, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e := newEnvWithJournal(t, j, anonymous)
	c := e.dialWS(bearer(e.token(auth.MintClaims{Publish: []string{"t"}, Subscribe: []string{"t"}})))
	var msgs []any
	var want []string // each answer: an op, and for an ack the data it stored
	for i := range 40 {
		switch i {
		case 10:
			msgs = append(msgs, map[string]any{"op": "publish", "ref": i, "topics": []string{"other"}, "data": "no"})
			want = append(want, "error")
		case 20:
			msgs = append(msgs, map[string]any{"op": "ping", "ref": i})
			want = append(want, "pong")
		case 30:
			msgs = append(msgs, map[string]any{"op": "subscribe", "ref": i, "sub": "s", "topics": []string{"t"}})
			want = append(want, "subscribed")
		default:
			msgs = append(msgs, map[string]any{"op": "publish", "ref": i, "topics": []string{"t"}, "data": fmt.Sprint(i)})
			want = append(want, "ack")
		}
	}
	c.sendAll(msgs...)
	var acked []string
	for i, op := range want {
		m := c.next()
		for m.Op == "event" {
			m = c.next() // the subscription's events come as they come
		}
		if m.Op != op || op != "pong" && op != "subscribed" && string(m.Ref) != fmt.Sprint(i) {
			t.Fatalf("answer %d = %+v, want %s for ref %d", i, m, op, i)
		}
		if op == "ack" {
			acked = append(acked, m.ID)
		}
	}
	// Stored in the order sent.
	var stored []string
	if err := j.Read(t.Context(), 0, func(ev *journal.Event) error {
		stored = append(stored, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored, acked) {
		t.Fatalf("stored %v, acknowledged %v", stored, acked)
	}
}

// Bad requests are answered with an error naming the problem and the code
// the same request gets over HTTP; the socket and its subscriptions go on.
func TestWebSocketRefusesBadRequests(t *testing.T) {
	e := newEnv(t, anonymous)
	c := e.dialWS(bearer(e.token(auth.MintClaims{Publish: []string{"mine"}, Subscribe: []string{"t"}})))
	c.subscribe("a", "", "t")
	for _, tc := range []struct {
		msg  string
		code int
		has  string
	}{
		{`not json`, 400, "malformed"},
		{`{"op":"teleport","ref":1}`, 400, "unknown op"},
		{`{"ref":2}`, 400, "malformed"},
		{`{"op":"publish","ref":3,"topics":["theirs"],"data":"x"}`, 403, "not allowed"},
		{`{"op":"publish","ref":4,"topics":[],"data":"x"}`, 400, "topic"},
		{`{"op":"publish","ref":5,"topics":["mine"],"id":"a\nb"}`, 400, "id"},
		{`{"op":"subscribe","sub":"a","topics":["t"]}`, 409, "already"},
		{`{"op":"subscribe","sub":"b","topics":[]}`, 400, "topic"},
		{`{"op":"subscribe","sub":"c","topics":["{bad"]}`, 400, "selector"},
		{`{"op":"subscribe","sub":"","topics":["t"]}`, 400, "sub"},
		{`{"op":"unsubscribe","sub":"nope"}`, 404, "no subscription"},
		{`{"op":"auth","token":"garbage"}`, 401, "unauthorized"},
	} {
		c.send(tc.msg)
		m := c.expect("error")
		if m.Code != tc.code || !strings.Contains(m.Error, tc.has) {
			t.Errorf("%s: error %d %q, want %d naming %q", tc.msg, m.Code, m.Error, tc.code, tc.has)
		}
	}
	// Still subscribed, still publishing.
	id := e.mustPublish(form("topic", "t", "data", "still"))
	if m := c.expect("event"); m.ID != id {
		t.Fatalf("after the errors got %+v", m)
	}
	c.send(`{"op":"publish","ref":9,"topics":["mine"],"data":"ok"}`)
	c.expect("ack")
	c.send(`{"op":"ping"}`)
	c.expect("pong")

	// A socket without a token may not publish.
	anon := e.dialWS(nil)
	anon.send(`{"op":"publish","ref":1,"topics":["t"],"data":"x"}`)
	if m := anon.expect("error"); m.Code != 401 {
		t.Errorf("anonymous publish: %+v, want 401", m)
	}
}

// Violations of RFC 6455 and the size limit close the socket with the
// code that says which.
func TestWebSocketCloseCodes(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = 4096 })
	t.Run("too big", func(t *testing.T) {
		c := e.dialWS(nil)
		c.send(`{"op":"ping","pad":"` + strings.Repeat("x", 5000) + `"}`)
		c.closedWith(ws.StatusMessageTooBig)
	})
	t.Run("binary", func(t *testing.T) {
		c := e.dialWS(nil)
		if err := wsutil.WriteClientBinary(c.conn, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		c.closedWith(ws.StatusUnsupportedData)
	})
	t.Run("unmasked", func(t *testing.T) {
		c := e.dialWS(nil)
		if err := ws.WriteFrame(c.conn, ws.NewTextFrame([]byte(`{"op":"ping"}`))); err != nil {
			t.Fatal(err)
		}
		c.closedWith(ws.StatusProtocolError)
	})
	t.Run("not UTF-8", func(t *testing.T) {
		c := e.dialWS(nil)
		if err := wsutil.WriteClientText(c.conn, []byte{'"', 0xff, '"'}); err != nil {
			t.Fatal(err)
		}
		c.closedWith(ws.StatusInvalidFramePayloadData)
	})
	t.Run("client close", func(t *testing.T) {
		c := e.dialWS(nil)
		body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")
		if err := ws.WriteFrame(c.conn, ws.MaskFrameInPlace(ws.NewCloseFrame(body))); err != nil {
			t.Fatal(err)
		}
		c.closedWith(ws.StatusNormalClosure)
	})
	t.Run("fragmented and pinged", func(t *testing.T) {
		c := e.dialWS(nil)
		// A message in three frames with a ping between: the pong comes,
		// then the answer to the message.
		parts := []ws.Frame{
			ws.NewFrame(ws.OpText, false, []byte(`{"op":`)),
			ws.NewPingFrame([]byte("hi")),
			ws.NewFrame(ws.OpContinuation, false, []byte(`"pi`)),
			ws.NewFrame(ws.OpContinuation, true, []byte(`ng"}`)),
		}
		for _, f := range parts {
			if err := ws.WriteFrame(c.conn, ws.MaskFrameInPlace(f)); err != nil {
				t.Fatal(err)
			}
		}
		c.expect("pong")
		c.conn.Close()
	})
	t.Run("a byte at a time", func(t *testing.T) {
		c := e.dialWS(nil)
		var frame bytes.Buffer
		if err := wsutil.WriteClientText(&frame, []byte(`{"op":"subscribe","sub":"slow","topics":["t"]}`)); err != nil {
			t.Fatal(err)
		}
		for _, b := range frame.Bytes() {
			if _, err := c.conn.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond) // let each byte arrive on its own
		}
		c.expect("subscribed")
		c.conn.Close()
	})
	if n := e.srv.Streams(); n != 0 {
		testutil.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
			if n := e.srv.Streams(); n != 0 {
				return fmt.Errorf("%d connections left", n)
			}
			return nil
		})
	}
}

// The upgrade is refused before it happens for a foreign Origin, without
// the subprotocol, or with a bad token.
func TestWebSocketUpgradeRefusals(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example"} })
	status := func(h http.Header, protocols ...string) int {
		req, _ := http.NewRequest("GET", e.url, nil)
		req.Header = h.Clone()
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		for _, p := range protocols {
			req.Header.Add("Sec-WebSocket-Protocol", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(http.Header{"Origin": {"https://evil.example"}}, "herald.v1"); got != 403 {
		t.Errorf("foreign Origin: %d, want 403", got)
	}
	if got := status(http.Header{}, "chat"); got != 400 {
		t.Errorf("no herald.v1: %d, want 400", got)
	}
	if got := status(bearer("garbage"), "herald.v1"); got != 401 {
		t.Errorf("bad token: %d, want 401", got)
	}
	if got := status(http.Header{"Origin": {"https://app.example"}}, "herald.v1"); got != 101 {
		t.Errorf("allowed Origin: %d, want 101", got)
	}
	if n := e.srv.Streams(); n > 1 {
		t.Errorf("%d connections held", n)
	}
}

// A socket without a token on a hub without anonymous access must send one
// in time; a replacement token keeps the socket past the first one's
// expiry, must be for the same subject, and its grants apply from where
// each subscription stands.
func TestWebSocketTokenLifecycle(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.Clock = clk })

	late := e.dialWS(nil)
	late.send(`{"op":"subscribe","sub":"a","topics":["t"]}`)
	if m := late.expect("error"); m.Code != 401 {
		t.Errorf("subscribe without a token: %+v", m)
	}
	waitTimers(t, clk)
	clk.Advance(11 * time.Second)
	late.closedWith(4401)

	c := e.dialWS(nil)
	first := e.token(auth.MintClaims{Subject: "ann", Subscribe: []string{"other"}, TTL: time.Minute})
	c.send(map[string]string{"op": "auth", "token": first})
	if m := c.expect("auth"); m.Expires == nil {
		t.Fatalf("auth reply %+v lacks the expiry", m)
	}
	c.subscribe("a", "", "t")
	public := e.mustPublish(form("topic", "t", "data", "public"))
	if m := c.expect("event"); m.ID != public {
		t.Fatalf("got %+v", m)
	}
	secret := e.mustPublish(form("topic", "t", "data", "secret", "private", "on"))
	// The new token grants t: the private event published since the
	// subscription's cursor comes now, once.
	second := e.token(auth.MintClaims{Subject: "ann", Subscribe: []string{"t"}, TTL: time.Hour})
	c.send(map[string]string{"op": "auth", "token": second})
	c.expect("auth")
	if m := c.expect("event"); m.ID != secret || m.Sub != "a" {
		t.Fatalf("after the new grants got %+v, want the private %q", m, secret)
	}
	later := e.mustPublish(form("topic", "t", "data", "later"))
	if m := c.expect("event"); m.ID != later {
		t.Fatalf("got %+v, want %q once", m, later)
	}
	// Past the first token's expiry the socket lives on.
	clk.Advance(2 * time.Minute)
	c.send(`{"op":"ping"}`)
	c.expect("pong")
	// Another subject: closed.
	c.send(map[string]string{"op": "auth", "token": e.token(auth.MintClaims{Subject: "bob"})})
	c.closedWith(4403)

	// Expiry without a replacement: 4401.
	d := e.dialWS(bearer(e.token(auth.MintClaims{Subject: "ann", Subscribe: []string{"t"}, TTL: time.Minute})))
	d.subscribe("a", "", "t")
	clk.Advance(2 * time.Minute)
	d.closedWith(4401)
}

// waitTimers waits for the fake clock to hold a timer (a socket's
// deadline) before it is advanced.
func waitTimers(t *testing.T, clk *clock.Fake) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if clk.Pending() == 0 {
			return errors.New("no timer armed")
		}
		return nil
	})
}

// A socket that stops reading is cut with 4408 and resumes with its
// cursor without loss.
func TestWebSocketSlowConsumer(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(_ *serverConfig, h *hubConfig) { h.QueueBytes = 64 << 10 })
		c, err := e.dialWSPaused(nil)
		if err != nil {
			t.Fatal(err)
		}
		// Subscribe, then read nothing: TCP buffers fill, then the queue.
		c.send(`{"op":"subscribe","sub":"a","topics":["t"]}`)
		// The socket counts as a stream from its upgrade; the subscription
		// counts in the hub once made.
		testutil.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
			if n := e.hub.Stats().Subscribers; n != 1 {
				return fmt.Errorf("%d subscriptions, want 1", n)
			}
			return nil
		})
		big := strings.Repeat("x", 4096)
		var ids []string
		for i := 0; e.hub.Stats().SlowConsumerDisconnects == 0 && i < 5000; i++ {
			ids = append(ids, e.mustPublish(form("topic", "t", "data", big)))
		}
		if e.hub.Stats().SlowConsumerDisconnects == 0 {
			t.Fatal("never cut")
		}
		go c.read()
		cursor := c.expect("subscribed").LastEventID
		var got []string
		for _, m := range c.untilClosed(4408) {
			got = append(got, m.ID)
			cursor = m.ID
		}
		// Resumed from its cursor: the rest, once, in order.
		r := e.dialWS(nil)
		r.subscribe("a", cursor, "t")
		got = append(got, eventIDs(r.events(len(ids)-len(got)))...)
		if !slices.Equal(got, ids) {
			t.Fatalf("before and after the cut: %d events, want the %d published, in order", len(got), len(ids))
		}
	})
}

func TestWebSocketDrainSaysGoingAway(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		c := e.dialWS(nil)
		c.subscribe("a", "", "t")
		e.srv.Drain()
		c.closedWith(ws.StatusGoingAway)
	})
}

func TestWebSocketResumesAcrossRestart(t *testing.T) {
	var ids []string
	var cursor string
	e2 := restarted(t, func(e *hubEnv) {
		c := e.dialWS(nil)
		c.subscribe("a", "", "t")
		ids = e.publishN("t", 4)
		cursor = c.events(2)[1].ID
	})
	more := e2.publishN("t", 2)
	c := e2.dialWS(nil)
	c.subscribe("a", cursor, "t")
	if got := eventIDs(c.events(4)); !slices.Equal(got, append(ids[2:], more...)) {
		t.Fatalf("after restart got %v", got)
	}
}

func TestWebSocketHeartbeatPings(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.Clock = clk; c.Heartbeat = 10 * time.Second })
	d := ws.Dialer{Protocols: []string{"herald.v1"}}
	conn, _, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(e.url, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The pool's heartbeat ticker is armed before the socket joins the
	// pool: a tick that comes first finds no socket to ping, so the clock
	// moves on an interval at a time until one is due.
	waitTimers(t, clk)
	rd := bufio.NewReader(conn)
	for tick := 1; ; tick++ {
		clk.Advance(10 * time.Second)
		conn.SetReadDeadline(time.Now().Add(time.Second))
		h, err := ws.ReadHeader(rd)
		if err == nil && h.OpCode == ws.OpPing {
			return
		}
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() || tick == 5 {
			t.Fatalf("after %d idle intervals read %+v, %v; want a ping", tick, h, err)
		}
	}
}

// Each subscription of a socket is a subscriber for the subscriptions API.
func TestWebSocketSubscriptionsListed(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.SubscriptionEvents = true })
	c := e.dialWS(nil)
	c.subscribe("a", "", "books")
	c.subscribe("b", "", "books")
	body := e.subscriptionsOf("books")
	if n := strings.Count(body, `"subscriber":`); n != 2 {
		t.Errorf("books lists %d subscribers, want 2: %s", n, body)
	}
}

// A client that sends its first message right behind the upgrade request,
// in the same packet, is answered as if it had waited for the upgrade.
func TestWebSocketMessageWithTheUpgrade(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode)
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var req bytes.Buffer
		req.WriteString("GET /.well-known/mercure HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: herald.v1\r\n\r\n")
		if err := wsutil.WriteClientText(&req, []byte(`{"op":"subscribe","sub":"early","topics":["t"]}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(req.Bytes()); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		data, _, err := wsutil.ReadServerData(readWriter{br, conn})
		if err != nil || !strings.Contains(string(data), `"op":"subscribed"`) {
			t.Fatalf("first message %s, %v; want subscribed", data, err)
		}
	})
}

// Limits hold for sockets as for streams: each subscription counts as a
// stream of its client, and --max-connections counts sockets.
func TestWebSocketLimits(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) {
		c.Limits.StreamsPerAddress = 2
		c.MaxConnections = 1
	})
	c := e.dialWS(nil)
	c.subscribe("a", "", "t")
	c.subscribe("b", "", "t")
	c.send(`{"op":"subscribe","sub":"c","topics":["t"]}`)
	if m := c.expect("error"); m.Code != 429 || m.Sub != "c" {
		t.Errorf("third subscription: %+v, want 429", m)
	}
	c.send(`{"op":"unsubscribe","sub":"a"}`)
	c.expect("unsubscribed")
	c.subscribe("c", "", "t")
	if _, err := e.tryDialWS(nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("second socket past --max-connections: %v, want 503", err)
	}
}

// A socket closed while its client is still sending (a message over the
// limit) gets its close frame: the server does not reset the connection
// by closing it with the client's bytes unread.
func TestWebSocketTooBigCloseArrives(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.MaxBodyBytes = 64 << 10 })
		for range 20 {
			c := e.dialWS(nil)
			// One frame announcing 1 MiB, sent in full: the server refuses
			// it from its header, with most of it still on the way.
			go func() { _ = wsutil.WriteClientText(c.conn, bytes.Repeat([]byte("x"), 1<<20)) }()
			c.closedWith(ws.StatusMessageTooBig)
			c.conn.Close()
		}
	})
}

// A socket that keeps sending invalid tokens is closed (each costs a
// signature check) after a few refusals; a valid one in between resets
// the count.
func TestWebSocketBadTokensClose(t *testing.T) {
	e := newEnv(t, anonymous)
	c := e.dialWS(nil)
	bad := `{"op":"auth","token":"garbage"}`
	c.send(bad)
	c.expect("error")
	c.send(bad)
	c.expect("error")
	c.send(map[string]string{"op": "auth", "token": e.token(auth.MintClaims{Subject: "ann"})})
	c.expect("auth")
	for range 2 {
		c.send(bad)
		c.expect("error")
	}
	c.send(bad)
	c.closedWith(4401)
}

package client

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhub/herald/sse"
)

// subName names a stream's one subscription on its socket.
const subName = "stream"

// wsSubscription is the source of a WebSocket connection: one socket
// carrying one subscription, to the selectors of the URL's `topic`
// parameters.
type wsSubscription struct {
	ws   *wsConn
	last string // the subscription's cursor
	hint time.Duration
}

func (s *wsSubscription) next() (sse.Event, error) {
	for {
		m, err := s.ws.readMessage()
		if err != nil {
			return sse.Event{}, err
		}
		switch {
		case m.Op == "event" && m.Sub == subName:
			ev := sse.Event{
				ID:    m.ID,
				Type:  m.Type,
				Data:  []byte(m.Data),
				Retry: time.Duration(m.Retry) * time.Millisecond,
			}
			if ev.ID != "" {
				s.last = ev.ID
			}
			ev.ID = s.last
			if ev.Retry > 0 {
				s.hint = ev.Retry
			}
			return ev, nil
		case m.Op == "error" && (m.Sub == subName || m.Sub == ""):
			return sse.Event{}, replyError(m)
		}
	}
}

func (s *wsSubscription) cursor() string       { return s.last }
func (s *wsSubscription) retry() time.Duration { return s.hint }
func (s *wsSubscription) close()               { s.ws.close() }

// openWebSocket opens a socket on c and subscribes from the stream's
// cursor. The connection is open when the hub has confirmed the
// subscription.
func (st *Stream) openWebSocket(c *conn) error {
	u, err := url.Parse(st.cfg.URL)
	if err != nil {
		return err
	}
	// The selectors go in the subscribe message; the other parameters,
	// such as `authorization`, stay on the URL.
	q := u.Query()
	topics := q["topic"]
	q.Del("topic")
	q.Del("lastEventID")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	st.addHeader(req.Header)
	if err := st.beforeConnect(req); err != nil {
		return err
	}
	maxMessage := int64(cmp.Or(st.cfg.MaxEventSize, sse.DefaultMaxEventSize))
	wc, err := dialWebSocket(c.ctx, req.URL.String(), req.Header, st.tlsConfig(), maxMessage, c.received)
	if err != nil {
		return c.timeoutErr(err)
	}
	s := &wsSubscription{ws: wc, last: st.LastEventID()}
	c.src = s
	// Cancelling the connection (Close, Restart, the read timeout) closes
	// the socket, which ends a read in progress.
	context.AfterFunc(c.ctx, wc.close)

	sent := s.last
	msg, err := json.Marshal(message{Op: "subscribe", Sub: subName, Topics: topics, LastEventID: sent})
	if err != nil {
		return err
	}
	if err := wc.writeText(msg, time.Time{}); err != nil {
		return c.timeoutErr(err)
	}
	for {
		m, err := wc.readMessage()
		if err != nil {
			return c.timeoutErr(err)
		}
		switch {
		case m.Op == "subscribed" && m.Sub == subName:
			st.checkCursor(sent, m.Earliest)
			if m.LastEventID != "" {
				s.last = m.LastEventID
				st.setLastID(s.last)
			}
			return nil
		case m.Op == "error":
			return replyError(m)
		}
	}
}

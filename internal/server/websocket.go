package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/transport/websocket"
)

// WebSocket on the hub's URL (docs/protocol.md, "WebSocket"): the server
// checks the upgrade (Origin, by the CORS layer before this; subprotocol;
// token), takes a connection slot and hands the socket to
// internal/transport/websocket, which asks the server (socketHost) for
// what its messages need: subscriptions are admitted one by one, as
// streams; publishes go through the same checks as a form's.

// Limits of a socket.
const (
	// maxSocketSubscriptions bounds the subscriptions of one socket; the
	// per-client limits bound them too.
	maxSocketSubscriptions = 64
)

// isWebSocket reports whether r asks to become a WebSocket.
func isWebSocket(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket")
}

// headerHas reports whether header name lists token (case-insensitively).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// serveWebSocket upgrades a subscribe request to a WebSocket.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !headerHas(r.Header, "Sec-WebSocket-Protocol", websocket.Subprotocol) {
		writeError(w, errorf(http.StatusBadRequest, "offer the WebSocket subprotocol "+websocket.Subprotocol))
		return
	}
	cred, herr := s.socketCredentials(r)
	if herr != nil {
		writeError(w, herr)
		return
	}
	if herr := s.takeConnection(); herr != nil {
		writeError(w, herr)
		return
	}
	up := ws.HTTPUpgrader{Protocol: ws.SelectEqual(websocket.Subprotocol), Timeout: s.cfg.WriteTimeout}
	if id := w.Header().Get(requestIDHeader); id != "" {
		// The upgrader writes its answer on the connection, without w's header.
		up.Header = http.Header{requestIDHeader: {id}}
	}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		// The upgrader answered the client.
		s.streams.Add(-1)
		s.log.Debug("websocket upgrade failed", "err", err)
		hijackedStatus(w, upgradeErrorStatus(err))
		return
	}
	hijackedStatus(w, http.StatusSwitchingProtocols)
	s.metrics.websocket.opens()
	host := &socketHost{srv: s, address: s.limits.clientAddress(r)}
	c := websocket.New(websocket.Config{
		Host: host, Credentials: cred,
		MaxMessage: int(s.cfg.MaxBodyBytes), MaxSubscriptions: maxSocketSubscriptions,
		Heartbeat: s.cfg.Heartbeat, MaxLifetime: s.cfg.MaxLifetime, ReplyTimeout: s.cfg.WriteTimeout,
		AuthTimeout: socketAuthTimeout(cred, s.cfg.Anonymous),
		Clock:       s.cfg.Clock,
	})
	if tcp, ok := conn.(*net.TCPConn); ok && s.push != nil {
		// What the client sent right behind its request was read with it:
		// it is acted on once the socket has its writer, before anything
		// the pool reads.
		pending := rw.Reader.Buffered()
		if pending > 0 {
			b, _ := rw.Reader.Peek(pending)
			c.Pending(b)
		}
		pc, err := s.push.Add(tcp, c)
		if err != nil {
			return // the pool closed the connection and told the socket
		}
		c.SetWriter(pc)
		pc.Wake()
		if pending > 0 {
			go func() { _ = c.Receive(nil) }() // an error ends the socket
		}
		return
	}
	c.Serve(conn, rw.Reader, s.cfg.Heartbeat, s.cfg.WriteTimeout, s.cfg.Clock)
}

// upgradeErrorStatus is the status the upgrader answers a failed upgrade with.
func upgradeErrorStatus(err error) int {
	var rej *ws.ConnectionRejectedError
	if errors.As(err, &rej) && rej.StatusCode() != 0 {
		return rej.StatusCode()
	}
	return http.StatusInternalServerError
}

// socketAuthTimeout is how long a socket without credentials may wait
// before it sends its token (a browser cannot send one with the upgrade):
// no limit where anonymous clients may subscribe.
func socketAuthTimeout(cred websocket.Credentials, anonymous bool) time.Duration {
	if cred.Token == "" && !anonymous {
		return authTimeout
	}
	return 0
}

// authTimeout is how long a socket without a token may stay open, where
// anonymous subscribers are not allowed, before it sends one.
const authTimeout = 10 * time.Second

// socketCredentials verifies the token of an upgrade request, if any.
// With an origin allowed only by "*", a cookie is not trusted: any site
// can open a WebSocket (there is no CORS for it), and the browser would
// send the visitor's cookie along.
func (s *Server) socketCredentials(r *http.Request) (websocket.Credentials, *httpError) {
	token, from, err := auth.TokenFromRequest(r)
	switch {
	case errors.Is(err, auth.ErrNoToken):
		return websocket.Credentials{}, nil
	case err != nil:
		return websocket.Credentials{}, s.unauthorized(r, err)
	}
	if from == auth.FromCookie {
		if origin := r.Header.Get("Origin"); origin != "" {
			if _, credentials := s.cors.check(r, origin); !credentials {
				return websocket.Credentials{}, nil
			}
		}
	}
	cred, err := s.credentials(token)
	if err != nil {
		return cred, s.unauthorized(r, err)
	}
	return cred, nil
}

// credentials verifies token with the subscriber's and the publisher's
// keys; it fails when neither accepts it.
func (s *Server) credentials(token string) (websocket.Credentials, error) {
	cred := websocket.Credentials{Token: token}
	var subErr, pubErr error
	cred.Subscriber, subErr = s.verify(s.cfg.SubscriberKey, token)
	cred.Publisher, pubErr = s.verify(s.cfg.PublisherKey, token)
	if cred.Subscriber == nil && cred.Publisher == nil {
		if s.cfg.SubscriberKey == s.cfg.PublisherKey {
			return cred, subErr // one key, one reason
		}
		return cred, errors.Join(subErr, pubErr)
	}
	return cred, nil
}

// socketHost is a socket's way to the server.
type socketHost struct {
	srv     *Server
	address string
}

// socketRefusal turns an answer of the server into a socket's refusal.
func socketRefusal(e *httpError) error { return &websocket.Error{Code: e.status, Msg: e.msg} }

func (h *socketHost) Authenticate(token string) (websocket.Credentials, error) {
	cred, err := h.srv.credentials(token)
	if err != nil {
		h.srv.metrics.authFailures.Inc()
		h.srv.refusals.Info("unauthorized", "path", "websocket auth", "remote", h.address, "err", err)
		return cred, socketRefusal(authError(err))
	}
	return cred, nil
}

func (h *socketHost) Subscribe(ctx context.Context, cred websocket.Credentials, topics []string, lastEventID string) (*session.Session, error) {
	s := h.srv
	sels, herr := s.parseSelectors(topics)
	if herr != nil {
		return nil, socketRefusal(herr)
	}
	if herr := checkLastEventID(lastEventID); herr != nil {
		return nil, socketRefusal(herr)
	}
	switch {
	case cred.Token != "" && cred.Subscriber == nil:
		return nil, socketRefusal(errorf(http.StatusForbidden, "this token may not subscribe (it does not verify with the subscriber key)"))
	case cred.Subscriber == nil && !s.cfg.Anonymous:
		return nil, socketRefusal(errorf(http.StatusUnauthorized, "subscribing needs a token: send an auth message first"))
	}
	if s.isDraining() {
		return nil, socketRefusal(unavailable("server shutting down", 1))
	}
	req := subscribeRequest{selectors: sels, claims: cred.Subscriber, lastEventID: lastEventID, address: h.address}
	sess, herr := s.open(ctx, req, s.releaseSub, true)
	if herr != nil {
		return nil, socketRefusal(herr)
	}
	// Registered, the subscription ends when the server drains, and the
	// socket with it, whichever writer it has.
	if err := s.sessions.Add(sess); err != nil {
		sess.Release(err)
		return nil, socketRefusal(unavailable("server shutting down", 1))
	}
	return sess, nil
}

func (h *socketHost) Publish(ctx context.Context, cred websocket.Credentials, ev *journal.Event) func() (string, error) {
	s := h.srv
	start := time.Now()
	if herr := s.allowPublish(cred.Token, cred.Publisher, h.address); herr != nil {
		return websocket.Refused(socketRefusal(herr))
	}
	wait, herr := s.queuePublish(ctx, cred.Publisher, ev)
	if herr != nil {
		return websocket.Refused(socketRefusal(herr))
	}
	return func() (string, error) {
		if herr := wait(); herr != nil {
			return "", socketRefusal(herr)
		}
		s.metrics.publishWebSocket.Observe(time.Since(start).Seconds())
		return ev.ID, nil
	}
}

func (h *socketHost) Closed(reason error) {
	h.srv.streams.Add(-1)
	h.srv.metrics.websocket.closes(reason)
	h.srv.log.Debug("websocket closed", "remote", h.address, "reason", reason)
}

func (h *socketHost) Sent(n int)             { h.srv.metrics.websocket.sent.Add(float64(n)) }
func (h *socketHost) Taken(oldest time.Time) { h.srv.metrics.websocket.delivered(oldest) }

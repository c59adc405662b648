package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/session"
)

// earliest is Mercure's Last-Event-ID for "everything retained".
const earliest = hub.Earliest

// subscribeRequest is what a request asks to subscribe to, read and
// authenticated; admit makes it a session.
type subscribeRequest struct {
	selectors   selector.Set
	claims      *auth.Claims // nil: anonymous
	lastEventID string
	address     string // the client's, as limits count it
	// unlisted: a poll, listed by the server's pollers rather than as a
	// subscription of its own, and not announced; or a state stream.
	unlisted bool
	// grants, when set, are what the subscription may receive privately
	// instead of the token's subscribe claim: a state stream's own topics,
	// once the access rules allowed the read.
	grants selector.Set
	// positioned subscribes right after journal position after instead of
	// from lastEventID (see hub.SubscribeRequest.Positioned).
	positioned bool
	after      uint64
}

// parseSubscribe reads a Mercure subscribe request: its topic selectors,
// token and Last-Event-ID. Every transport on the hub's URL (SSE, long
// polling, WebSocket) subscribes this way.
// query is r.URL.Query(), parsed once for the whole request.
func (s *Server) parseSubscribe(r *http.Request, query url.Values) (subscribeRequest, *httpError) {
	var req subscribeRequest
	sels, herr := s.parseSelectors(query["topic"])
	if herr != nil {
		return req, herr
	}
	claims, _, err := s.authenticate(r, query, s.cfg.SubscriberKey)
	if err == nil && claims == nil && !s.cfg.Anonymous {
		err = auth.ErrNoToken
	}
	if err != nil {
		return req, s.unauthorized(r, err)
	}
	lastID := lastEventID(r, query)
	if herr := checkLastEventID(lastID); herr != nil {
		return req, herr
	}
	return subscribeRequest{selectors: sels, claims: claims, lastEventID: lastID, address: s.limits.clientAddress(r)}, nil
}

// admit turns a subscribe request into a session: it takes a connection
// slot and the client's limits, subscribes to the hub (resuming where
// asked) and announces the subscription. The session's release gives all
// of it back, once. It is the one way into a stream. Draining reaches the
// session through its writer: the push pool, or the server's registry of
// the sessions it writes otherwise.
func (s *Server) admit(ctx context.Context, req subscribeRequest) (*session.Session, *httpError) {
	return s.admitWith(ctx, req, s.release)
}

// admitWith is admit with the session's release given: it must call
// s.release.
func (s *Server) admitWith(ctx context.Context, req subscribeRequest, release func(*session.Session)) (*session.Session, *httpError) {
	if herr := s.takeConnection(); herr != nil {
		return nil, herr
	}
	sess, herr := s.open(ctx, req, release, false)
	if herr != nil {
		s.streams.Add(-1)
	}
	return sess, herr
}

// takeConnection takes a connection slot, unless the server drains or
// has none left; the caller gives it back (streams.Add(-1)).
func (s *Server) takeConnection() *httpError {
	if s.isDraining() {
		return unavailable("server shutting down", 1)
	}
	if n := s.streams.Add(1); s.cfg.MaxConnections > 0 && n > int64(s.cfg.MaxConnections) {
		s.streams.Add(-1)
		s.metrics.rejectedStreams.Inc()
		return unavailable("too many connections", 5)
	}
	return nil
}

// open makes the session of a subscription on a connection admit (or a
// WebSocket) took: the client's limits, the hub subscription, its
// announcement. release gives them back. An untimed session leaves its
// deadline to its transport (a WebSocket, whose token can be replaced).
func (s *Server) open(ctx context.Context, req subscribeRequest, release func(*session.Session), untimed bool) (*session.Session, *httpError) {
	var subject string
	if req.claims != nil {
		subject = req.claims.Subject
	}
	if refused := s.limits.admitStream(req.address, subject, req.selectors.Cost()); refused != nil {
		s.metrics.refused.WithLabelValues(refused.reason).Inc()
		s.refusals.Info("stream refused", "reason", refused.reason, "remote", req.address, "subject", subject)
		return nil, tooMany(refused)
	}
	hreq := hub.SubscribeRequest{
		Selectors: req.selectors, LastEventID: req.lastEventID, Unlisted: req.unlisted,
		Positioned: req.positioned, After: req.after,
	}
	if req.claims != nil {
		hreq.Grants = req.claims.Subscribe
		hreq.Payload = req.claims.Payload
	}
	if req.grants != nil {
		hreq.Grants = req.grants
	}
	sub, err := s.cfg.Hub.Subscribe(ctx, hreq)
	if err != nil {
		s.limits.releaseStream(req.address, subject, req.selectors.Cost())
		s.log.Warn("subscribe failed", "err", err)
		return nil, unavailable("hub unavailable, retry later", 1)
	}
	s.announce(sub, true)
	sess := session.New(session.Config{
		Sub: sub, Claims: req.claims, Address: req.address,
		StartID:     startID(req.lastEventID, sub),
		MaxLifetime: s.cfg.MaxLifetime,
		Untimed:     untimed,
		Deadlines:   s.deadlines,
		Release:     release,
		Clock:       s.cfg.Clock,
	})
	return sess, nil
}

// releaseSession gives back what admit took for sess; it is every
// session's release (Server.release, made once).
func (s *Server) releaseSession(sess *session.Session) {
	s.releaseSubscription(sess)
	s.streams.Add(-1)
}

// releaseSubscription gives back what open took for sess: the release of
// a WebSocket's subscriptions (the socket holds the connection slot).
func (s *Server) releaseSubscription(sess *session.Session) {
	var subject string
	if sess.Claims != nil {
		subject = sess.Claims.Subject
	}
	s.limits.releaseStream(sess.Address, subject, sess.Sub.Selectors().Cost())
	s.announce(sess.Sub, false)
}

// unavailable is a 503 that tells the client when to come back.
func unavailable(msg string, retryAfter int) *httpError {
	e := errorf(http.StatusServiceUnavailable, msg)
	e.retryAfter = strconv.Itoa(retryAfter)
	return e
}

// startID is where a new stream stands, the ID its opening block sends:
// the client's own Last-Event-ID when the journal knew it (or
// "earliest", when asked for), else the position responseLastEventID
// names.
func startID(requested string, sub *hub.Subscription) string {
	if requested != "" && sub.Resumed() {
		return requested
	}
	return responseLastEventID(requested, sub)
}

// responseLastEventID is Mercure's Last-Event-ID response header:
// "earliest" when the requested ID was not found (replay starts at the
// oldest retained event) or the journal was empty, else the newest event
// at subscription time, as this subscriber may see it.
func responseLastEventID(requested string, sub *hub.Subscription) string {
	if requested != "" && requested != earliest && !sub.Resumed() {
		return earliest
	}
	if id := sub.HeadID(); id != "" {
		return id
	}
	return earliest
}

// lastEventID is where the client resumes from: the header wins over the
// query parameter (Mercure), which browsers need on their first connection.
func lastEventID(r *http.Request, q url.Values) string {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		return v
	}
	for _, k := range []string{"lastEventID", "Last-Event-ID", "last-event-id", "lastEventId"} {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) parseSelectors(raw []string) (selector.Set, *httpError) {
	if len(raw) == 0 {
		return nil, errorf(http.StatusBadRequest, "missing topic selector")
	}
	if len(raw) > s.cfg.MaxSelectors {
		return nil, errorf(http.StatusBadRequest, "too many topic selectors (at most "+strconv.Itoa(s.cfg.MaxSelectors)+")")
	}
	for _, t := range raw {
		if herr := s.checkSelector(t); herr != nil {
			return nil, herr
		}
	}
	set, err := selector.ParseSet(raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed topic selector: "+err.Error())
	}
	if cost := set.Cost(); cost > s.cfg.MaxSelectorCost {
		return nil, errorf(http.StatusBadRequest, "topic selectors too costly to match: cost "+strconv.Itoa(cost)+
			", limit "+strconv.Itoa(s.cfg.MaxSelectorCost)+" (--max-selector-cost); use fewer or simpler templates")
	}
	return set, nil
}

package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/sse"
)

// earliest is Mercure's Last-Event-ID for "everything retained".
const earliest = "earliest"

// replayChunk is how many replayed bytes are gathered into one write.
const replayChunk = 64 << 10

// handleSubscribe is the Mercure subscribe endpoint: an SSE stream of the
// events matching the request's topic selectors.
func (s *Server) handleSubscribe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sels, herr := s.parseSelectors(q["topic"])
		if herr != nil {
			writeError(w, herr)
			return
		}
		claims, _, err := s.authenticate(r, s.cfg.SubscriberKey)
		if err != nil {
			s.unauthorized(w, r, err)
			return
		}
		if claims == nil && !s.cfg.Anonymous {
			s.unauthorized(w, r, auth.ErrNoToken)
			return
		}
		if r.Method == http.MethodHead {
			// GET routes answer HEAD too: say what a stream would be,
			// without opening one.
			sse.SetHeaders(w.Header())
			return
		}
		lastID := lastEventID(r)
		if herr := checkLastEventID(lastID); herr != nil {
			writeError(w, herr)
			return
		}

		if s.isDraining() {
			w.Header().Set("Retry-After", "1")
			writeError(w, errorf(http.StatusServiceUnavailable, "server shutting down"))
			return
		}
		if n := s.streams.Add(1); s.cfg.MaxConnections > 0 && n > int64(s.cfg.MaxConnections) {
			s.streams.Add(-1)
			s.metrics.rejectedStreams.Inc()
			w.Header().Set("Retry-After", "5")
			writeError(w, errorf(http.StatusServiceUnavailable, "too many connections"))
			return
		}

		push := s.canPush(w, r)
		var pushTo atomic.Pointer[pushConn]
		req := hub.SubscribeRequest{Selectors: sels, LastEventID: lastID}
		if push {
			// Until startPush has registered and armed the connection,
			// queued frames wait; it then schedules the connection once.
			req.OnReady = func() {
				if c := pushTo.Load(); c != nil {
					c.schedule()
				}
			}
		}
		if claims != nil {
			req.Grants = claims.Subscribe
			req.Payload = claims.Payload
		}
		sub, err := s.cfg.Hub.Subscribe(r.Context(), req)
		if err != nil {
			s.streams.Add(-1)
			s.log.Warn("subscribe failed", "err", err)
			writeError(w, errorf(http.StatusServiceUnavailable, "hub unavailable, retry later"))
			return
		}
		// ended releases what the stream holds, once, whichever way it ends.
		ended := func() {
			sub.Close()
			s.streams.Add(-1)
			s.announce(sub, sels, req.Payload, false)
		}

		h := w.Header()
		h.Set("Last-Event-ID", responseLastEventID(lastID, sub))
		s.announce(sub, sels, req.Payload, true)

		var expires time.Time
		if claims != nil {
			expires = claims.ExpiresAt
		}
		if push {
			c, err := s.startPush(w, r, sub, expires, &pushTo, ended)
			if err != nil {
				s.log.Debug("stream ended", "subscriber", sub.ID(), "reason", err)
				if c == nil {
					ended()
				}
			}
			return
		}
		defer ended()
		err = s.stream(w, r, sub, expires)
		s.log.Debug("stream ended", "subscriber", sub.ID(), "reason", err)
	})
}

// startPush turns the request into a push stream: it hijacks the
// connection, writes the head, the retry hint and the replay, then hands
// the connection to the push pool and returns, leaving no goroutine behind.
// When it returns a connection, that connection's close runs ended.
func (s *Server) startPush(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, expires time.Time,
	pushTo *atomic.Pointer[pushConn], ended func()) (*pushConn, error) {
	sse.SetHeaders(w.Header())
	c, err := s.hijack(w, r)
	if err != nil {
		return nil, err
	}
	c.sub = sub
	c.onClose = func() { go ended() } // close runs it once
	s.metrics.streamsOpened.Inc()

	buf := appendResponseHead(make([]byte, 0, 512), r.Proto, w.Header())
	if s.cfg.RetryHint > 0 {
		buf = sse.AppendRetry(buf, s.cfg.RetryHint)
	}
	write := func(b []byte) error { return c.writeBlocking([][]byte{b}) }
	if err := replay(r.Context(), sub, buf, write); err != nil {
		c.close(err)
		return c, err
	}
	if err := s.push.add(c); err != nil {
		return c, err
	}
	if !expires.IsZero() {
		c.closeAfter(time.Until(expires), errTokenExpired)
	}
	if s.cfg.MaxLifetime > 0 {
		c.closeAfter(jitter(s.cfg.MaxLifetime), errLifetime)
	}
	pushTo.Store(c)
	// Frames may have queued while the replay was written.
	c.schedule()
	return c, nil
}

// replay writes what the subscription is due from the journal after buf
// (the stream's first bytes, if any), gathered into writes of about
// replayChunk bytes.
func replay(ctx context.Context, sub *hub.Subscription, buf []byte, write func([]byte) error) error {
	err := sub.Replay(ctx, func(m *hub.Message) error {
		buf = append(buf, m.Frame...)
		if len(buf) < replayChunk {
			return nil
		}
		err := write(buf)
		buf = buf[:0]
		return err
	})
	if err == nil && len(buf) > 0 {
		err = write(buf)
	}
	return err
}

// lastEventID is where the client resumes from: the header wins over the
// query parameter (Mercure), which browsers need on their first connection.
func lastEventID(r *http.Request) string {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		return v
	}
	q := r.URL.Query()
	for _, k := range []string{"lastEventID", "Last-Event-ID", "last-event-id", "lastEventId"} {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// responseLastEventID is the Last-Event-ID response header: "earliest" when
// the requested ID was not found (replay starts at the oldest retained
// event), else the newest event at subscription time.
func responseLastEventID(requested string, sub *hub.Subscription) string {
	if requested != "" && requested != earliest && !sub.Resumed() {
		return earliest
	}
	if id := sub.HeadID(); id != "" {
		return id
	}
	return earliest
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
	return set, nil
}

// Why a stream ended; these are logged only.
var (
	errDraining     = errors.New("server draining")
	errTokenExpired = errors.New("token expired")
	errLifetime     = errors.New("maximum lifetime reached")
)

// stream writes the subscription to w until the client leaves, the hub
// ends it, its token expires or the server drains.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, expires time.Time) error {
	ctx := r.Context()
	sw := sse.NewWriter(w)
	sw.SetWriteTimeout(s.cfg.WriteTimeout)

	// The first bytes flush the headers: the retry hint, or a comment.
	buf := heartbeatFrame
	if s.cfg.RetryHint > 0 {
		buf = sse.AppendRetry(nil, s.cfg.RetryHint)
	}
	if err := sw.Write(buf); err != nil {
		return err
	}
	s.metrics.streamsOpened.Inc()

	if err := replay(ctx, sub, nil, sw.Write); err != nil {
		return err
	}

	var heartbeat <-chan time.Time
	if s.cfg.Heartbeat > 0 {
		t := time.NewTicker(s.cfg.Heartbeat)
		defer t.Stop()
		heartbeat = t.C
	}
	var expiry <-chan time.Time
	if !expires.IsZero() {
		t := time.NewTimer(time.Until(expires))
		defer t.Stop()
		expiry = t.C
	}
	var lifetime <-chan time.Time
	if s.cfg.MaxLifetime > 0 {
		t := time.NewTimer(jitter(s.cfg.MaxLifetime))
		defer t.Stop()
		lifetime = t.C
	}

	var msgs []*hub.Message
	var frames [][]byte
	for {
		select {
		case <-sub.Ready():
			msgs, frames = drainFrames(sub, msgs, frames)
			if len(frames) == 0 {
				continue
			}
			err := sw.WriteFrames(frames...)
			clear(frames)
			if err != nil {
				return err
			}
		case <-heartbeat:
			if err := sw.Write(heartbeatFrame); err != nil {
				return err
			}
		case <-sub.Done():
			if err := sub.Err(); err != nil {
				return err
			}
			return hub.ErrHubClosed
		case <-expiry:
			return errTokenExpired
		case <-lifetime:
			return errLifetime
		case <-s.draining:
			return errDraining
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// heartbeatFrame is the keep-alive comment: the smallest frame a client
// ignores, enough to detect a dead connection and keep proxies from
// timing out.
var heartbeatFrame = sse.AppendComment(nil, "")

// drainFrames takes everything queued for sub and returns the frames to
// write, reusing msgs (scratch, returned cleared) and frames. The frames
// are shared by every subscriber and must not be modified.
func drainFrames(sub *hub.Subscription, msgs []*hub.Message, frames [][]byte) ([]*hub.Message, [][]byte) {
	msgs = sub.Drain(msgs[:0])
	frames = frames[:0]
	for _, m := range msgs {
		frames = append(frames, m.Frame)
	}
	clear(msgs)
	return msgs, frames
}

// jitter spreads d over ±10% so that streams opened together do not all
// end (and reconnect) together.
func jitter(d time.Duration) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}

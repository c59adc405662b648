package server

import (
	"context"
	"net/http"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/sse"
)

// replayChunk is how many replayed bytes are gathered into one write.
const replayChunk = 64 << 10

// sseFormat is the SSE frame of an event: encoded once per event, by the
// first SSE stream that writes it, and shared by every other.
var sseFormat = hub.NewFormat(sseFrame)

// sseFrame encodes an event as SSE subscribers receive it.
func sseFrame(ev *journal.Event) []byte {
	// The hub hands out only events that frame (see hub.Publish).
	frame, _ := sse.Event{ID: ev.ID, Type: ev.Type, Data: ev.Data, Retry: ev.Retry}.MarshalText()
	return frame
}

// sseFrameOf is the SSE frame of a message.
func sseFrameOf(m *hub.Message) []byte { return m.Frame(sseFormat) }

// heartbeatFrame is the keep-alive comment: the smallest frame a client
// ignores, enough to detect a dead connection and keep proxies from
// timing out.
var heartbeatFrame = sse.AppendComment(nil, "")

// handleSubscribe is the Mercure subscribe endpoint: an SSE stream of the
// events matching the request's topic selectors.
func (s *Server) handleSubscribe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			s.serveWebSocket(w, r)
			return
		}
		query := r.URL.Query() // parsed once: a poll comes often
		poll := isPoll(r, query)
		if poll {
			// Errors included: a poll is never answered from a cache.
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Add("Vary", "Accept")
		}
		req, herr := s.parseSubscribe(r, query)
		if herr != nil {
			writeError(w, herr)
			return
		}
		if poll {
			s.servePoll(w, r, req, query)
			return
		}
		if r.Method == http.MethodHead {
			// GET routes answer HEAD too: say what a stream would be,
			// without opening one.
			sse.SetHeaders(w.Header())
			return
		}
		sess, herr := s.admit(r.Context(), req)
		if herr != nil {
			writeError(w, herr)
			return
		}
		w.Header().Set("Last-Event-ID", responseLastEventID(req.lastEventID, sess.Sub))
		sse.SetHeaders(w.Header())
		st := streamStart{
			sess: sess, source: &sseStream{srv: s, sess: sess}, metrics: &s.metrics.sse,
			first: func(ctx context.Context, buf []byte, write func([]byte) error) error {
				// The opening block also flushes the headers.
				return replay(ctx, sess.Sub, s.opening(buf, sess), sseFrameOf, write)
			},
		}
		s.runStream(w, r, st)
	})
}

// sseStream is a session as an SSE stream: the [push.Source] both writers
// take.
type sseStream struct {
	srv  *Server
	sess *session.Session
}

func (t *sseStream) Heartbeat() []byte      { return heartbeatFrame }
func (t *sseStream) Goodbye(error) []byte   { return nil }
func (t *sseStream) Ready() <-chan struct{} { return t.sess.Ready() }
func (t *sseStream) Done() <-chan struct{}  { return t.sess.Done() }
func (t *sseStream) Err() error             { return t.sess.Err() }

// Frames hands out the frames due and observes the age of the oldest
// event among them: once per write batch, after the subscription's lock.
func (t *sseStream) Frames(dst [][]byte) [][]byte {
	var oldest time.Time
	t.sess.Sub.DrainEach(func(m *hub.Message) {
		dst = append(dst, m.Frame(sseFormat))
		if oldest.IsZero() {
			oldest = m.Event.Time
		}
	})
	t.srv.metrics.sse.delivered(oldest)
	return dst
}

// Sent counts what the writers wrote (a [push.Meter]).
func (t *sseStream) Sent(n int) { t.srv.metrics.sse.sent.Add(float64(n)) }

// Closed is called by the push pool: releasing may publish subscription
// events, which waits for the journal, so it runs on its own.
func (t *sseStream) Closed(reason error) {
	t.srv.log.Debug("stream ended", "subscriber", t.sess.Sub, "reason", reason)
	t.srv.metrics.sse.closes(reason)
	go t.sess.Release(reason)
}

// opening is the block a stream starts with: the retry hint and the
// subscriber's position as its last event ID, so that a client that
// drops before its first event resumes from where it connected (the
// blank line that ends any block sets a client's last event ID, to ""
// when the block has none).
func (s *Server) opening(dst []byte, sess *session.Session) []byte {
	out, err := sse.AppendControl(dst, sess.StartID, max(s.cfg.RetryHint, 0))
	if err != nil {
		// The IDs a session starts from are checked at admission or
		// come from the hub, which never hands out an unframable one.
		return sse.AppendRetry(dst, max(s.cfg.RetryHint, 0))
	}
	return out
}

// runStream serves a stream with the push pool where it can, else from
// the handler's goroutine.
func (s *Server) runStream(w http.ResponseWriter, r *http.Request, st streamStart) {
	if s.canPush(w, r) {
		s.startPush(w, r, st)
		return
	}
	opened, err := s.serveStream(w, r, st)
	s.log.Debug("stream ended", "subscriber", st.sess.Sub, "reason", err)
	if opened {
		st.metrics.closes(err)
	}
	st.sess.Release(err)
}

// replay writes what the subscription is due from the journal after buf
// (the stream's first bytes, if any), each event as frame makes it (nil:
// none), gathered into writes of about replayChunk bytes.
func replay(ctx context.Context, sub *hub.Subscription, buf []byte, frame func(*hub.Message) []byte, write func([]byte) error) error {
	err := sub.Replay(ctx, func(m *hub.Message) error {
		buf = append(buf, frame(m)...)
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

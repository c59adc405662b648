package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
	"github.com/heraldhub/herald/sse"
)

// A REST stream of the state tree (Accept: text/event-stream on a tree
// URL) is a session like any other: its hub subscription watches the
// path's topics (see state.WatchTopics) from a known position, and its
// transport turns each write into the Firebase event the path sees.
//
// It starts with a put of the value at the path, taken from a snapshot
// of the tree at journal position N, and subscribes right after N: every
// later write comes as a put or patch, none is lost or applied twice.
// Every event carries an id; a client that reconnects with Last-Event-ID
// gets only the writes since, while the journal retains them, and a
// fresh put "/" otherwise.

// Why a state stream ends for access reasons; their last event says it.
var (
	// errReadDenied: the rules no longer let the caller read the path
	// (after a reload): the stream gets cancel.
	errReadDenied = errors.New("read permission revoked")
)

// The frames of a state stream that carry no write.
var (
	keepAliveFrame   = []byte("event: keep-alive\ndata: null\n\n")
	cancelFrame      = []byte("event: cancel\ndata: null\n\n")
	authRevokedFrame = []byte("event: auth_revoked\ndata: \"credential is no longer valid\"\n\n")
)

// serveDBStream answers a GET that asks for text/event-stream.
func (s *Server) serveDBStream(w http.ResponseWriter, r *http.Request, req dbRequest) {
	if !s.canRead(req, req.path) {
		writeDBError(w, permissionDenied)
		return
	}
	if _, queried, err := tree.ParseQuery(req.query); err != nil || queried || req.query.Has("shallow") {
		// A stream is of the whole value; a filter silently dropped
		// would be worse than a refusal.
		writeDBError(w, errorf(http.StatusBadRequest, "Queries and shallow are not supported on streams: stream the location and filter in the client."))
		return
	}
	if r.Method == http.MethodHead {
		sse.SetHeaders(w.Header())
		return
	}
	sels, err := selector.ParseSet(state.WatchTopics(req.ns, req.path))
	if err != nil {
		// The topics are escaped paths: they always parse.
		writeDBError(w, errorf(http.StatusInternalServerError, "internal error"))
		return
	}
	var snap *state.Snapshot
	var after uint64
	resumeID := lastEventID(r, req.query)
	if resumeID != "" && resumeID != earliest {
		if seq, err := s.cfg.Journal.Lookup(r.Context(), resumeID); err == nil {
			after = seq
		}
	}
	if after == 0 {
		snap = s.cfg.State.Snapshot()
		after = snap.Seq
	}
	sub := subscribeRequest{
		selectors: sels, grants: sels, claims: req.claims, address: s.limits.clientAddress(r),
		unlisted: true, positioned: true, after: after,
	}
	stream := &dbStream{srv: s, ns: req.ns, path: req.path, key: req.path.String(), who: req}
	sess, herr := s.admitWith(r.Context(), sub, func(sess *session.Session) {
		s.dbStreams.remove(stream)
		s.release(sess)
	})
	if herr != nil {
		writeDBError(w, herr)
		return
	}
	stream.sess = sess
	s.dbStreams.add(stream)
	sse.SetHeaders(w.Header())
	s.runStream(w, r, streamStart{
		sess: sess, source: stream, metrics: &s.metrics.db,
		first: func(ctx context.Context, buf []byte, write func([]byte) error) error {
			buf = s.dbOpening(buf, snap == nil, resumeID)
			if snap != nil {
				var err error
				if buf, err = stream.writeSnapshot(buf, snap, write); err != nil {
					return err
				}
			}
			return replay(ctx, sess.Sub, buf, stream.frame, write)
		},
	})
}

// dbOpening is what a state stream starts with: the retry hint, and when
// it resumes the client's own position as its id, so that a client that
// drops before the next event resumes from there again (a block without
// an id would reset its last event ID). A stream that starts with a put
// needs no id here: the put carries its own.
func (s *Server) dbOpening(buf []byte, resumed bool, id string) []byte {
	retry := max(s.cfg.RetryHint, 0)
	if !resumed {
		if retry == 0 {
			return buf
		}
		return sse.AppendRetry(buf, retry)
	}
	out, err := sse.AppendControl(buf, id, retry)
	if err != nil {
		return buf // the ID was checked by the journal's Lookup
	}
	return out
}

// dbStream is a session as a state stream: the [push.Source] both
// writers take.
type dbStream struct {
	srv  *Server
	sess *session.Session
	ns   string
	path tree.Path
	key  string // path.String(): the frames cache's key
	who  dbRequest
}

func (t *dbStream) Heartbeat() []byte      { return keepAliveFrame }
func (t *dbStream) Ready() <-chan struct{} { return t.sess.Ready() }
func (t *dbStream) Done() <-chan struct{}  { return t.sess.Done() }
func (t *dbStream) Err() error             { return t.sess.Err() }
func (t *dbStream) Sent(n int)             { t.srv.metrics.db.sent.Add(float64(n)) }

// Goodbye is Firebase's last event: auth_revoked when the credential
// expired or was revoked, cancel when the rules no longer allow the read.
func (t *dbStream) Goodbye(reason error) []byte {
	switch {
	case errors.Is(reason, session.ErrTokenExpired), errors.Is(reason, errTokenRevoked):
		return authRevokedFrame
	case errors.Is(reason, errReadDenied):
		return cancelFrame
	}
	return nil
}

// frame is the SSE frame of m as the watched path sees it; nil when the
// write does not change it.
func (t *dbStream) frame(m *hub.Message) []byte {
	return t.srv.dbFrames.frame(m.Event, t.path, t.key, t.srv.cfg.State.Limits())
}

// Frames hands out the events due, as the watched path sees them.
func (t *dbStream) Frames(dst [][]byte) [][]byte {
	var oldest time.Time
	t.sess.Sub.DrainEach(func(m *hub.Message) {
		if f := t.frame(m); f != nil {
			dst = append(dst, f)
		}
		if oldest.IsZero() {
			oldest = m.Event.Time
		}
	})
	t.srv.metrics.db.delivered(oldest)
	return dst
}

// Closed is called by the push pool; releasing runs on its own.
func (t *dbStream) Closed(reason error) {
	t.srv.log.Debug("stream ended", "subscriber", t.sess.Sub, "reason", reason)
	t.srv.metrics.db.closes(reason)
	go t.sess.Release(reason)
}

// writeSnapshot writes the first put: the value at the path in snap,
// encoded as it is written, in chunks, so that a large tree is never
// held twice. Its id is snap's position, from which a reconnection
// resumes.
func (t *dbStream) writeSnapshot(buf []byte, snap *state.Snapshot, write func([]byte) error) ([]byte, error) {
	if snap.Seq > 0 {
		buf = append(buf, "id: "...)
		buf = append(buf, journal.FormatID(t.srv.cfg.Journal.Epoch(), snap.Seq)...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "event: put\ndata: {\"path\":\"/\",\"data\":"...)
	cw := &chunkWriter{buf: buf, write: write}
	if err := snap.Get(t.ns, t.path).WriteJSON(cw, tree.Format{}); err != nil {
		return nil, err
	}
	return append(cw.buf, "}\n\n"...), nil
}

// chunkWriter gathers what is written into writes of about replayChunk
// bytes; what is left stays in buf.
type chunkWriter struct {
	buf   []byte
	write func([]byte) error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	if len(c.buf) >= replayChunk {
		err := c.write(c.buf)
		c.buf = c.buf[:0]
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// dbFrameCache keeps, for recent state events, each watched path's SSE
// frame: streams watching one path share it, and an event is decoded
// once. It is bounded by count and by bytes (an event's data and its
// frames), oldest out first; an event evicted while streams still write
// it is only decoded again.
type dbFrameCache struct {
	mu     sync.Mutex
	events map[uint64]*dbEvent
	order  []uint64 // seqs, oldest first
	bytes  int
}

// Bounds of dbFrameCache.
const (
	dbFrameEvents = 4096
	dbFrameBytes  = 64 << 20
)

// dbEvent is one state event's decoded write and its frames by path.
type dbEvent struct {
	data   int // bytes of the event's data
	once   sync.Once
	op     *tree.Op
	mu     sync.Mutex
	frames map[string][]byte // nil value: the path does not see the write
}

// frame returns the SSE frame of ev for a stream watching path (key is
// path.String()), or nil when the write does not change what it sees.
func (c *dbFrameCache) frame(ev *journal.Event, path tree.Path, key string, lim tree.Limits) []byte {
	e := c.event(ev)
	e.once.Do(func() {
		if _, op, err := state.DecodeEvent(ev, lim); err == nil {
			e.op = op
		}
	})
	if e.op == nil {
		return nil
	}
	e.mu.Lock()
	f, ok := e.frames[key]
	if !ok {
		if kind, data, affected := e.op.Project(path); affected {
			// Data is one line of JSON: it frames as it is.
			f, _ = sse.Event{ID: ev.ID, Type: kind, Data: data}.MarshalText()
		}
		if e.frames == nil {
			e.frames = make(map[string][]byte)
		}
		e.frames[key] = f
	}
	e.mu.Unlock()
	if !ok {
		c.grow(len(f) + len(key))
	}
	return f
}

// event returns the cache's entry for ev, made when missing.
func (c *dbFrameCache) event(ev *journal.Event) *dbEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = make(map[uint64]*dbEvent)
	}
	if e := c.events[ev.Seq]; e != nil {
		return e
	}
	e := &dbEvent{data: len(ev.Data)}
	c.events[ev.Seq] = e
	c.order = append(c.order, ev.Seq)
	// The decoded write costs about its data again.
	c.bytes += 2 * len(ev.Data)
	c.evict()
	return e
}

// grow counts n more bytes held, evicting what the bounds no longer allow.
func (c *dbFrameCache) grow(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += n
	c.evict()
}

// evict drops the oldest events beyond the bounds, keeping the newest.
// c.mu is held. The bytes of an event's frames made after it was counted
// stay counted until it goes, as an estimate.
func (c *dbFrameCache) evict() {
	for len(c.order) > 1 && (len(c.order) > dbFrameEvents || c.bytes > dbFrameBytes) {
		seq := c.order[0]
		c.order = c.order[1:]
		if e := c.events[seq]; e != nil {
			c.bytes -= e.size()
			delete(c.events, seq)
		}
	}
	if c.bytes < 0 {
		c.bytes = 0
	}
}

// size is what the cache counted for e, as well as it can tell now.
func (e *dbEvent) size() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 2 * e.data
	for k, f := range e.frames {
		n += len(k) + len(f)
	}
	return n
}

// dbStreamSet is the open state streams, for what ends them from outside:
// a rules reload that takes away a read, a revoked token.
type dbStreamSet struct {
	mu      sync.Mutex
	streams map[*dbStream]struct{}
}

func (set *dbStreamSet) add(t *dbStream) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.streams == nil {
		set.streams = make(map[*dbStream]struct{})
	}
	set.streams[t] = struct{}{}
}

func (set *dbStreamSet) remove(t *dbStream) {
	set.mu.Lock()
	defer set.mu.Unlock()
	delete(set.streams, t)
}

// each calls fn for every open stream, outside the set's lock.
func (set *dbStreamSet) each(fn func(*dbStream)) {
	set.mu.Lock()
	all := make([]*dbStream, 0, len(set.streams))
	for t := range set.streams {
		all = append(all, t)
	}
	set.mu.Unlock()
	for _, t := range all {
		fn(t)
	}
}

// RecheckStreams ends, with cancel, every state stream the access rules
// no longer let read its path: call it after the rules change.
func (s *Server) RecheckStreams() {
	s.dbStreams.each(func(t *dbStream) {
		if !s.canRead(t.who, t.path) {
			t.sess.End(errReadDenied)
		}
	})
}

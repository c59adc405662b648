// Package websocket is Herald's WebSocket transport, protocol herald.v1
// (docs/protocol.md): one socket carries many subscriptions, each an
// admitted session with its own cursor, and publishes; its token can be
// replaced while it is open.
//
// A [Conn] is a [push.Source] and a [push.Receiver]: on plain TCP it
// rides the push pool like an SSE push stream (no goroutine and no buffer
// while idle; a goroutine only while the client's bytes are read), and
// elsewhere (TLS) [Conn.Serve] writes and reads it from two goroutines.
// The server admits the socket and does what a message asks through
// [Host]; this package knows nothing of HTTP routes or limits.
package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/session"
)

// Subprotocol is the protocol a client must offer.
const Subprotocol = "herald.v1"

// Credentials are what a socket's token allows.
type Credentials struct {
	// Token is the token as sent (publish rate limits count by token).
	Token string
	// Subscriber and Publisher are the token's claims as verified with
	// the subscriber's and the publisher's key; nil when it does not
	// verify with that key, or there is no token.
	Subscriber, Publisher *auth.Claims
}

func (c Credentials) subject() string {
	for _, claims := range []*auth.Claims{c.Subscriber, c.Publisher} {
		if claims != nil && claims.Subject != "" {
			return claims.Subject
		}
	}
	return ""
}

// ExpiresAt is when the token expires; zero when it does not.
func (c Credentials) ExpiresAt() time.Time {
	for _, claims := range []*auth.Claims{c.Subscriber, c.Publisher} {
		if claims != nil {
			return claims.ExpiresAt
		}
	}
	return time.Time{}
}

func (c Credentials) grants() []string {
	if c.Subscriber == nil {
		return nil
	}
	return c.Subscriber.Subscribe.Strings()
}

// Host does what a socket's messages ask of the server. Its errors are
// [*Error] (answered, the socket goes on) or [*CloseError].
type Host interface {
	// Authenticate verifies a token sent in an auth message.
	Authenticate(token string) (Credentials, error)
	// Subscribe admits a subscription as cred allows, resuming after
	// lastEventID ("" for live only). The session's deadline is the
	// socket's, not its own (its token may be replaced).
	Subscribe(ctx context.Context, cred Credentials, topics []string, lastEventID string) (*session.Session, error)
	// Publish publishes ev as cred allows and returns its ID.
	Publish(ctx context.Context, cred Credentials, ev *journal.Event) (string, error)
	// Closed is called once, when the socket has closed and released its
	// subscriptions.
	Closed(reason error)
	// Sent is told the bytes each write put on the socket, and Taken,
	// once per batch of events the writer takes, when the journal took
	// the oldest of them. Both are for metrics: they must be cheap and
	// must not block.
	Sent(n int)
	Taken(oldest time.Time)
}

// Config is a socket's, as the server admitted it.
type Config struct {
	Host        Host
	Credentials Credentials
	// MaxMessage bounds a client's message, in bytes (close 1009 past it).
	MaxMessage int
	// MaxSubscriptions bounds the subscriptions of one socket.
	MaxSubscriptions int
	// Heartbeat is the ping interval: a socket from which nothing has
	// arrived for three intervals is closed. <= 0: no pings.
	Heartbeat time.Duration
	// MaxLifetime closes the socket (1001) after about this long; 0: never.
	MaxLifetime time.Duration
	// AuthTimeout closes a socket without a token (4401) unless it sends
	// one within this time; 0: no limit.
	AuthTimeout time.Duration
	// ReplyTimeout bounds how long the socket waits for its client to read
	// the replies it owes before it closes as a slow consumer.
	ReplyTimeout time.Duration
	// Clock is the source of time (default: the real clock).
	Clock clock.Clock
}

// Conn is one socket. Its methods are safe for concurrent use; Receive is
// called by one reader at a time.
type Conn struct {
	host         Host
	clock        clock.Clock
	maxMessage   int
	maxSubs      int
	heartbeat    time.Duration
	replyTimeout time.Duration
	lifetimeEnd  time.Time
	authBy       time.Time // while the socket has no token

	ctx    context.Context // ends when the socket closes
	cancel context.CancelFunc
	writer atomic.Value // of hub.Waker: the push pool's connection
	ready  chan struct{}
	done   chan struct{}

	lastRead atomic.Int64 // unix nanoseconds, on clock

	mu       sync.Mutex
	cred     Credentials
	subs     []*subscription
	replies  [][]byte // frames owed to the client, written before any event
	owed     int      // their bytes
	room     chan struct{}
	err      error
	closed   bool
	deadline clock.Timer

	// The reader's state, under rmu: the pool never runs two Receives of
	// a socket at once, but the bytes that came with the upgrade request
	// are handed over from another goroutine (see Pending).
	rmu     sync.Mutex
	partial []byte // the start of a frame not yet whole
	message []byte // the fragments of a message not yet final
	// badTokens counts the auth messages refused in a row.
	badTokens int
	inFrag    bool
}

// subscription is one subscription of a socket.
type subscription struct {
	name   string
	prefix []byte // the first frame of each of its events
	sess   *session.Session
	waker  *waker
	cursor string // the ID of its last event handed to the writer
	// switching: its session is being replaced (a new token's grants);
	// the writer leaves it alone meanwhile.
	switching bool
}

// waker is a subscription session's writer: it wakes the socket, and ends
// it when the session ended on its own (a slow consumer).
type waker struct {
	conn    *Conn
	sess    *session.Session
	dropped atomic.Bool // released by the socket: its end is not the socket's
}

func (w *waker) Wake() {
	if !w.dropped.Load() {
		if err := w.sess.Err(); err != nil {
			w.conn.end(err)
		}
	}
	w.conn.Wake()
}

// maxOwed bounds the replies (and replayed events) waiting for the writer
// before the reader waits for it: a client that pipelines thousands of
// publishes without reading its acks is throttled, not buffered.
const maxOwed = 256 << 10

// New makes the socket of an admitted, upgraded connection.
func New(cfg Config) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		host: cfg.Host, clock: clock.Or(cfg.Clock),
		maxMessage: cfg.MaxMessage, maxSubs: cfg.MaxSubscriptions,
		heartbeat: cfg.Heartbeat, replyTimeout: cfg.ReplyTimeout,
		ctx: ctx, cancel: cancel,
		ready: make(chan struct{}, 1), done: make(chan struct{}),
		cred: cfg.Credentials,
	}
	now := c.clock.Now()
	c.lastRead.Store(now.UnixNano())
	if cfg.MaxLifetime > 0 {
		c.lifetimeEnd = now.Add(session.Jitter(cfg.MaxLifetime))
	}
	if cfg.AuthTimeout > 0 {
		c.authBy = now.Add(cfg.AuthTimeout)
	}
	c.mu.Lock()
	c.armLocked(now)
	c.mu.Unlock()
	return c
}

// SetWriter gives the socket the push pool's connection to wake.
func (c *Conn) SetWriter(w hub.Waker) { c.writer.Store(w) }

// Wake tells the writer that frames are due or the socket ended.
func (c *Conn) Wake() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
	if w, ok := c.writer.Load().(hub.Waker); ok {
		w.Wake()
	}
}

// armLocked sets the socket's deadline: its token's expiry or its
// lifetime's end, whichever comes first.
func (c *Conn) armLocked(now time.Time) {
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
	at, reason := c.lifetimeEnd, error(session.ErrLifetime)
	if exp := c.cred.ExpiresAt(); !exp.IsZero() && (at.IsZero() || exp.Before(at)) {
		at, reason = exp, session.ErrTokenExpired
	}
	if c.cred.Token == "" && !c.authBy.IsZero() && (at.IsZero() || c.authBy.Before(at)) {
		at, reason = c.authBy, &CloseError{Code: CodeUnauthorized, Reason: "no token sent in time"}
	}
	if !at.IsZero() {
		c.deadline = c.clock.AfterFunc(at.Sub(now), func() { c.end(reason) })
	}
}

// end ends the socket for reason (the first one is kept) and wakes the
// writer, which sends the close frame.
func (c *Conn) end(reason error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = reason
		close(c.done)
	}
	c.mu.Unlock()
	c.Wake()
}

// Frames implements [push.Source]: the replies owed, then each
// subscription's events.
func (c *Conn) Frames(dst [][]byte) [][]byte {
	dst, oldest := c.frames(dst)
	if !oldest.IsZero() {
		c.host.Taken(oldest)
	}
	return dst
}

// Sent implements [push.Meter].
func (c *Conn) Sent(n int) { c.host.Sent(n) }

// frames is Frames under the socket's lock; it also returns when the
// journal took the oldest event it hands out (zero for none).
func (c *Conn) frames(dst [][]byte) ([][]byte, time.Time) {
	var oldest time.Time
	c.mu.Lock()
	defer c.mu.Unlock()
	dst = append(dst, c.replies...)
	clear(c.replies)
	if cap(c.replies) > 64 {
		c.replies = nil
	}
	c.replies, c.owed = c.replies[:0], 0
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	for _, s := range c.subs {
		if s.switching {
			continue
		}
		s.sess.Sub.DrainEach(func(m *hub.Message) {
			dst = append(dst, s.prefix, m.Frame(Format))
			if m.Event.ID != "" {
				s.cursor = m.Event.ID
			}
			if t := m.Event.Time; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		})
	}
	return dst, oldest
}

// Heartbeat implements [push.Source]: a ping. A socket from which nothing
// has arrived for three intervals is dead, or its client is.
func (c *Conn) Heartbeat() []byte {
	if c.heartbeat > 0 && c.clock.Now().Sub(time.Unix(0, c.lastRead.Load())) > 3*c.heartbeat {
		c.end(&CloseError{Code: CodeGoingAway, Reason: "no ping answered"})
	}
	return pingFrame
}

// Goodbye implements [push.Source]: the close frame that says why.
func (c *Conn) Goodbye(reason error) []byte {
	if errors.Is(reason, push.ErrClientGone) {
		return nil
	}
	code, text := closeCode(reason)
	return closeFrame(code, text)
}

// closeCode maps why a socket ends to its close code (docs/protocol.md).
func closeCode(reason error) (ws.StatusCode, string) {
	if ce, ok := errors.AsType[*CloseError](reason); ok {
		return ce.Code, ce.Reason
	}
	switch {
	case errors.Is(reason, session.ErrDraining), errors.Is(reason, session.ErrLifetime),
		errors.Is(reason, hub.ErrHubClosed), errors.Is(reason, push.ErrPoolClosed):
		return CodeGoingAway, reason.Error()
	case errors.Is(reason, session.ErrTokenExpired):
		return CodeUnauthorized, reason.Error()
	case errors.Is(reason, hub.ErrSlowConsumer):
		return CodeSlowConsumer, "slow consumer: resume with each subscription's last event ID"
	}
	return CodeInternalError, "internal error"
}

// Ready, Done and Err implement [push.Source].
func (c *Conn) Ready() <-chan struct{} { return c.ready }
func (c *Conn) Done() <-chan struct{}  { return c.done }
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Closed implements [push.Source]: it releases every subscription and
// tells the host.
func (c *Conn) Closed(reason error) {
	c.mu.Lock()
	c.closed = true
	subs := c.subs
	c.subs = nil
	if c.deadline != nil {
		c.deadline.Stop()
	}
	if c.err == nil {
		c.err = reason
		close(c.done)
	}
	c.mu.Unlock()
	c.cancel()
	for _, s := range subs {
		s.waker.dropped.Store(true)
		s.sess.Release(reason)
	}
	c.host.Closed(reason)
}

// owe queues frames for the client, ahead of any event still to come, and
// wakes the writer. Past maxOwed it waits for the writer to take them: a
// client that does not read is cut after the reply timeout.
func (c *Conn) owe(frames ...[]byte) error {
	c.mu.Lock()
	if c.closed || c.err != nil {
		err := c.err
		c.mu.Unlock()
		return cmpErr(err, push.ErrClientGone)
	}
	c.replies = append(c.replies, frames...)
	for _, f := range frames {
		c.owed += len(f)
	}
	var room chan struct{}
	if c.owed > maxOwed {
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room = c.room
	}
	c.mu.Unlock()
	c.Wake()
	if room == nil {
		return nil
	}
	expired := make(chan struct{})
	t := c.clock.AfterFunc(c.replyTimeout, func() { close(expired) })
	defer t.Stop()
	select {
	case <-room:
		return nil
	case <-c.done:
		return c.Err()
	case <-expired:
		err := &CloseError{Code: CodeSlowConsumer, Reason: "slow consumer: replies not read"}
		c.end(err)
		return err
	}
}

func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// Receive implements [push.Receiver]: it takes the client's frames as
// they come, whole or in pieces, and acts on each message. A violation of
// RFC 6455 or a message over the size limit ends the socket.
func (c *Conn) Receive(data []byte) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.lastRead.Store(c.clock.Now().UnixNano())
	buf := data
	if len(c.partial) > 0 {
		c.partial = append(c.partial, data...)
		buf = c.partial
	}
	for len(buf) > 0 {
		h, size, ok, err := header(buf)
		if err == nil && ok {
			err = c.check(h)
		}
		if err != nil {
			c.end(err)
			return err
		}
		if !ok || int64(len(buf)-size) < h.Length {
			break
		}
		payload := buf[size : size+int(h.Length)]
		buf = buf[size+int(h.Length):]
		ws.Cipher(payload, h.Mask, 0)
		if err := c.frame(h, payload); err != nil {
			c.end(err)
			return err
		}
	}
	// Keep what is left of an incomplete frame, and nothing once whole.
	switch {
	case len(buf) == 0:
		c.partial = nil
	case len(c.partial) > 0:
		c.partial = c.partial[:copy(c.partial, buf)]
	default:
		c.partial = append([]byte(nil), buf...)
	}
	return nil
}

// Pending hands over the bytes the client sent right behind its upgrade
// request, read with it: they are acted on before anything read later,
// by the next Receive (call Receive(nil) once the socket has a writer).
func (c *Conn) Pending(b []byte) {
	c.rmu.Lock()
	c.partial = append(c.partial, b...)
	c.rmu.Unlock()
}

// check refuses a frame header that breaks RFC 6455 or the size limit,
// before its payload is read.
func (c *Conn) check(h ws.Header) error {
	state := ws.StateServerSide
	if c.inFrag {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return &CloseError{Code: CodeProtocolError, Reason: err.Error()}
	}
	if h.OpCode == ws.OpBinary {
		return &CloseError{Code: CodeUnsupportedData, Reason: "binary messages are not spoken: send JSON text"}
	}
	if h.Length+int64(len(c.message)) > int64(c.maxMessage) {
		return &CloseError{Code: CodeTooBig, Reason: "message over the limit of " + itoa(c.maxMessage) + " bytes"}
	}
	return nil
}

// frame acts on one whole frame.
func (c *Conn) frame(h ws.Header, payload []byte) error {
	switch h.OpCode {
	case ws.OpPing:
		return c.owe(compile(ws.OpPong, true, slices.Clone(payload)))
	case ws.OpPong:
		return nil
	case ws.OpClose:
		// Echo a valid code (RFC 6455, 5.5.1); refuse an invalid one.
		if len(payload) == 0 {
			return &CloseError{Code: CodeNormal, Reason: "closed by the client"}
		}
		code, reason := ws.ParseCloseFrameData(payload)
		// gobwas checks the ranges below 5000; nothing above is defined.
		if err := ws.CheckCloseFrameData(code, reason); err != nil || len(payload) == 1 || code >= 5000 {
			return &CloseError{Code: CodeProtocolError, Reason: "invalid close frame"}
		}
		return &CloseError{Code: code, Reason: "closed by the client"}
	case ws.OpText:
		if h.Fin {
			return c.message1(payload)
		}
		c.message, c.inFrag = append(c.message[:0], payload...), true
		return nil
	default: // continuation; CheckHeader saw a message to continue
		c.message = append(c.message, payload...)
		if !h.Fin {
			return nil
		}
		msg := c.message
		c.message, c.inFrag = nil, false
		return c.message1(msg)
	}
}

// clientMessage is any message a client sends; op says which fields count.
type clientMessage struct {
	Op          string          `json:"op"`
	Ref         json.RawMessage `json:"ref,omitempty"`
	Sub         string          `json:"sub"`
	Topics      []string        `json:"topics"`
	LastEventID string          `json:"lastEventID"`
	Token       string          `json:"token"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Data        string          `json:"data"`
	Private     bool            `json:"private"`
	Retry       int64           `json:"retry"`
}

// reply is any message the server answers with.
type reply struct {
	Op          string          `json:"op"`
	Ref         json.RawMessage `json:"ref,omitempty"`
	Sub         string          `json:"sub,omitempty"`
	ID          string          `json:"id,omitempty"`
	LastEventID string          `json:"lastEventID,omitempty"`
	Earliest    bool            `json:"earliest,omitempty"`
	Expires     *string         `json:"expires,omitempty"`
	Code        int             `json:"code,omitempty"`
	Error       string          `json:"error,omitempty"`
}

func (r reply) frame() []byte {
	b, _ := json.Marshal(r) // strings and numbers only
	return textFrame(b)
}

// maxBadTokens is how many invalid tokens in a row a socket may send
// before it is closed (4401).
const maxBadTokens = 3

// maxSubName bounds a subscription's name.
const maxSubName = 64

// message1 acts on one whole message.
func (c *Conn) message1(payload []byte) error {
	if !utf8.Valid(payload) {
		return &CloseError{Code: CodeInvalidPayload, Reason: "text message not valid UTF-8"}
	}
	if err := c.Err(); err != nil {
		return err // ending: nothing more is done for the client
	}
	var m clientMessage
	if err := json.Unmarshal(payload, &m); err != nil || m.Op == "" {
		return c.refuse(m, errMalformed)
	}
	var err error
	switch m.Op {
	case "subscribe":
		err = c.subscribe(m)
	case "unsubscribe":
		err = c.unsubscribe(m)
	case "publish":
		err = c.publish(m)
	case "auth":
		err = c.auth(m)
	case "ping":
		return c.owe(pongReply)
	default:
		err = errorf(http.StatusBadRequest, "unknown op "+quote(m.Op)+": want subscribe, unsubscribe, publish, auth or ping")
	}
	return c.refuse(m, err)
}

// refuse answers a refused request with an error message; any other error
// ends the socket.
func (c *Conn) refuse(m clientMessage, err error) error {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return err
	}
	return c.owe(reply{Op: "error", Ref: m.Ref, Sub: m.Sub, Code: e.Code, Error: e.Msg}.frame())
}

func (c *Conn) subscribe(m clientMessage) error {
	if m.Sub == "" || len(m.Sub) > maxSubName {
		return errorf(http.StatusBadRequest, "sub: want a name of 1 to "+itoa(maxSubName)+" bytes")
	}
	c.mu.Lock()
	taken := c.find(m.Sub) != nil
	full := len(c.subs) >= c.maxSubs
	cred := c.cred
	c.mu.Unlock()
	switch {
	case taken:
		return errorf(http.StatusConflict, "sub "+quote(m.Sub)+" already subscribed")
	case full:
		return errorf(http.StatusTooManyRequests, "too many subscriptions on this socket (at most "+itoa(c.maxSubs)+")")
	}
	sess, err := c.host.Subscribe(c.ctx, cred, m.Topics, m.LastEventID)
	if err != nil {
		return err
	}
	s := &subscription{name: m.Sub, prefix: subscriptionPrefix(m.Sub), cursor: sess.StartID}
	ok := reply{Op: "subscribed", Sub: m.Sub, LastEventID: sess.StartID,
		Earliest: m.LastEventID != "" && m.LastEventID != hub.Earliest && !sess.Sub.Resumed()}
	return c.attach(s, sess, ok.frame())
}

// attach makes sess the session of s, adding s to the socket (with the
// reply that says so ahead of any of its events) or replacing the
// session it had, then replays what sess is due.
func (c *Conn) attach(s *subscription, sess *session.Session, said []byte) error {
	w := &waker{conn: c, sess: sess}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sess.Release(push.ErrClientGone)
		return push.ErrClientGone
	}
	old := s.sess
	s.sess, s.waker = sess, w
	if old == nil {
		c.subs = append(c.subs, s)
	}
	if said != nil {
		c.replies = append(c.replies, said)
		c.owed += len(said)
	}
	c.mu.Unlock()
	sess.SetWriter(w)
	w.Wake()
	// A replay that fails (the socket closed, the journal failed) ends
	// the subscription's session, which ends the socket through its
	// waker; the client resumes with its cursor.
	_ = sess.Sub.Replay(c.ctx, func(m *hub.Message) error {
		if err := c.owe(s.prefix, m.Frame(Format)); err != nil {
			return err
		}
		if m.Event.ID != "" {
			c.mu.Lock()
			s.cursor = m.Event.ID
			c.mu.Unlock()
		}
		return nil
	})
	c.mu.Lock()
	s.switching = false
	c.mu.Unlock()
	c.Wake()
	return nil
}

func (c *Conn) find(name string) *subscription {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (c *Conn) unsubscribe(m clientMessage) error {
	c.mu.Lock()
	s := c.find(m.Sub)
	if s != nil && !s.switching {
		c.subs = slices.DeleteFunc(c.subs, func(x *subscription) bool { return x == s })
		said := reply{Op: "unsubscribed", Sub: m.Sub}.frame()
		c.replies = append(c.replies, said)
		c.owed += len(said)
	}
	c.mu.Unlock()
	if s == nil {
		return errorf(http.StatusNotFound, "no subscription "+quote(m.Sub))
	}
	if s.switching {
		return errorf(http.StatusConflict, "sub "+quote(m.Sub)+" is being resubscribed: try again")
	}
	s.waker.dropped.Store(true)
	s.sess.Release(nil)
	c.Wake()
	return nil
}

func (c *Conn) publish(m clientMessage) error {
	c.mu.Lock()
	cred := c.cred
	c.mu.Unlock()
	if cred.Publisher == nil {
		if cred.Token == "" {
			return errorf(http.StatusUnauthorized, "publishing needs a token: send an auth message first")
		}
		return errorf(http.StatusForbidden, "this token may not publish")
	}
	if m.Retry < 0 {
		return errorf(http.StatusBadRequest, "invalid retry: want milliseconds, 0 or more")
	}
	ev := &journal.Event{
		Topics: m.Topics, ID: m.ID, Type: m.Type, Data: []byte(m.Data),
		Retry: time.Duration(min(m.Retry, int64(maxRetry/time.Millisecond))) * time.Millisecond, Private: m.Private,
	}
	id, err := c.host.Publish(c.ctx, cred, ev)
	if err != nil {
		return err
	}
	return c.owe(reply{Op: "ack", Ref: m.Ref, ID: id}.frame())
}

// maxRetry keeps a retry in milliseconds from overflowing a Duration;
// validation refuses what is out of range.
const maxRetry = time.Duration(1<<62 - 1)

// auth takes a token, first or in place of the socket's: for the same
// subject, and a subscription made under other grants takes the new ones
// from where it stands.
func (c *Conn) auth(m clientMessage) error {
	if m.Token == "" {
		return errorf(http.StatusBadRequest, "token: missing")
	}
	cred, err := c.host.Authenticate(m.Token)
	if err != nil {
		// Each refusal cost a signature check: a socket that keeps
		// sending bad tokens is closed rather than answered forever.
		if c.badTokens++; c.badTokens >= maxBadTokens {
			return &CloseError{Code: CodeUnauthorized, Reason: "too many invalid tokens"}
		}
		return err
	}
	c.badTokens = 0
	c.mu.Lock()
	if old := c.cred.subject(); old != "" && cred.subject() != old {
		c.mu.Unlock()
		return &CloseError{Code: CodeForbidden, Reason: "a replacement token must be for the same subject"}
	}
	changed := !slices.Equal(c.cred.grants(), cred.grants())
	c.cred = cred
	c.armLocked(c.clock.Now())
	var moving []*subscription
	if changed {
		for _, s := range c.subs {
			if !s.switching {
				s.switching = true
				moving = append(moving, s)
			}
		}
	}
	c.mu.Unlock()

	var expires *string
	if exp := cred.ExpiresAt(); !exp.IsZero() {
		v := exp.UTC().Format(time.RFC3339)
		expires = &v
	}
	if err := c.owe(reply{Op: "auth", Expires: expires}.frame()); err != nil {
		return err
	}
	for _, s := range moving {
		if err := c.regrant(s, cred); err != nil {
			return err
		}
	}
	return nil
}

// regrant resubscribes s with cred's grants from its cursor: the events it
// was due and had not been handed are replayed under the new grants.
func (c *Conn) regrant(s *subscription, cred Credentials) error {
	c.mu.Lock()
	cursor, old := s.cursor, s.sess
	c.mu.Unlock()
	sess, err := c.host.Subscribe(c.ctx, cred, old.Sub.Selectors().Strings(), cursor)
	if err != nil {
		// The subscription cannot go on under the new token (a limit, the
		// journal): drop it and say so; the client resubscribes.
		c.mu.Lock()
		c.subs = slices.DeleteFunc(c.subs, func(x *subscription) bool { return x == s })
		c.mu.Unlock()
		s.waker.dropped.Store(true)
		old.Release(nil)
		return c.refuse(clientMessage{Sub: s.name}, asError(err))
	}
	s.waker.dropped.Store(true)
	old.Release(nil)
	return c.attach(s, sess, nil)
}

// asError keeps an Error and makes anything else one, for a refusal.
func asError(err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return errorf(http.StatusServiceUnavailable, "subscription lost: resubscribe")
}

func itoa(n int) string { return strconv.Itoa(n) }

// quote shows a client's string in an error, cut to a readable length.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

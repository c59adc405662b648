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
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

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
	// Publish publishes ev as cred allows: it checks and queues it and
	// returns at once, and wait returns the event's ID once it is
	// stored, or why it was not (also a refusal found before queueing).
	// Events are stored in the order of the Publish calls.
	Publish(ctx context.Context, cred Credentials, ev *journal.Event) (wait func() (string, error))
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
	// queued are the publishes read and queued whose answers are not
	// sent yet: a read's publishes are stored together, and answered,
	// in order, before anything else the client asked (see flush).
	// queuedBytes is the size of their data.
	queued      []queuedPublish
	queuedBytes int
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
		return cmp.Or(err, push.ErrClientGone)
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

package websocket

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/session"
)

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
		if err := c.flush(); err != nil {
			return err
		}
		return c.refuse(m, errMalformed)
	}
	if m.Op == "publish" {
		return c.publish(m)
	}
	// Every other request is answered after the publishes before it.
	if err := c.flush(); err != nil {
		return err
	}
	var err error
	switch m.Op {
	case "subscribe":
		err = c.subscribe(m)
	case "unsubscribe":
		err = c.unsubscribe(m)
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
		return errorf(http.StatusBadRequest, "sub: want a name of 1 to "+strconv.Itoa(maxSubName)+" bytes")
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
		return errorf(http.StatusTooManyRequests, "too many subscriptions on this socket (at most "+strconv.Itoa(c.maxSubs)+")")
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

// queuedPublish is a publish queued, and how to learn its outcome.
type queuedPublish struct {
	ref  json.RawMessage // what the answer names
	wait func() (string, error)
}

// maxQueued and maxQueuedBytes bound the publishes a socket has queued
// before it waits for them: in number, and in the bytes of their data.
const (
	maxQueued      = 256
	maxQueuedBytes = 1 << 20
)

// publish queues a publish; its answer, an ack or an error, is sent by
// flush, in order with every other answer. The reader flushes at the end
// of each read (Receive), before any other request, and every maxQueued
// publishes: a client that pipelines gets its publishes stored together,
// in the journal's batches, where waiting for each in turn would store
// one per commit.
func (c *Conn) publish(m clientMessage) error {
	c.queued = append(c.queued, queuedPublish{ref: m.Ref, wait: c.queuePublish(m)})
	c.queuedBytes += len(m.Data)
	if len(c.queued) >= maxQueued || c.queuedBytes >= maxQueuedBytes {
		return c.flush()
	}
	return nil
}

// Refused is the outcome of a publish refused before it was queued, for
// a [Host]'s Publish to return.
func Refused(err error) (wait func() (string, error)) {
	return func() (string, error) { return "", err }
}

// queuePublish checks and queues the publish of m.
func (c *Conn) queuePublish(m clientMessage) func() (string, error) {
	c.mu.Lock()
	cred := c.cred
	c.mu.Unlock()
	if cred.Publisher == nil {
		if cred.Token == "" {
			return Refused(errorf(http.StatusUnauthorized, "publishing needs a token: send an auth message first"))
		}
		return Refused(errorf(http.StatusForbidden, "this token may not publish"))
	}
	if m.Retry < 0 {
		return Refused(errorf(http.StatusBadRequest, "invalid retry: want milliseconds, 0 or more"))
	}
	ev := &journal.Event{
		Topics: m.Topics, ID: m.ID, Type: m.Type, Data: []byte(m.Data),
		Retry: time.Duration(min(m.Retry, int64(maxRetry/time.Millisecond))) * time.Millisecond, Private: m.Private,
	}
	return c.host.Publish(c.ctx, cred, ev)
}

// flush waits for the queued publishes, in order, and answers each: an
// ack with its event's ID, or its error. An error that is not an answer
// ends the socket, once every queued publish is settled.
func (c *Conn) flush() error {
	var end error
	for _, q := range c.queued {
		id, err := q.wait()
		switch {
		case end != nil:
		case err == nil:
			end = c.owe(reply{Op: "ack", Ref: q.ref, ID: id}.frame())
		default:
			end = c.refuse(clientMessage{Ref: q.ref}, err)
		}
	}
	clear(c.queued)
	c.queued, c.queuedBytes = c.queued[:0], 0
	if cap(c.queued) > 64 {
		c.queued = nil // a burst's: not kept by an idle socket
	}
	return end
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

// quote shows a client's string in an error, cut to a readable length.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// signal is an outcome that one goroutine sets, once, and others wait for.
//
// The waiters block on a mutex, locked until the outcome is set, and not
// on a channel. What sets it is a goroutine of the connection (a reply
// arrived) or of the journal (a timeout), and a waiter may run in a
// testing/synctest bubble: there, closing a channel made in the bubble
// from outside it is a fatal error, and a goroutine blocked on one counts
// as idle, so the bubble's fake clock would jump ahead while the answer is
// on its way. A mutex is neither: it may be unlocked from anywhere, and a
// goroutine waiting for it is busy as far as synctest can tell.
type signal struct {
	mu    sync.Mutex
	once  sync.Once
	isSet atomic.Bool
	err   error
}

func newSignal() *signal {
	s := new(signal)
	s.mu.Lock()
	return s
}

// set sets the outcome, unless it was set already, and reports whether
// this call set it.
func (s *signal) set(err error) (first bool) {
	s.once.Do(func() {
		s.err = err
		s.isSet.Store(true)
		s.mu.Unlock()
		first = true
	})
	return first
}

// wait waits until the outcome is set and returns it.
func (s *signal) wait() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// replier is what waits for messages on the journal's reply subject: a
// request, or the acknowledgement of a publish.
type replier interface {
	// reply takes one message sent to the replier's reply subject and
	// reports whether it was the last one it waits for.
	reply(m *nats.Msg) (last bool)
}

// replies routes the messages sent to the journal's reply subjects, one
// wildcard subscription for every request and publish of the journal, to
// whoever waits for them.
//
// The journal makes its requests itself rather than with nats.go's
// Request, which waits on a channel that the connection's goroutine
// fills (see signal).
type replies struct {
	nc     *nats.Conn
	prefix string // the wildcard's literal part, with its final dot
	sub    *nats.Subscription

	mu      sync.Mutex
	next    uint64
	waiting map[string]replier
}

func newReplies(nc *nats.Conn) (*replies, error) {
	r := &replies{nc: nc, prefix: nc.NewInbox() + ".", waiting: make(map[string]replier)}
	sub, err := nc.Subscribe(r.prefix+"*", r.handle)
	if err != nil {
		return nil, fmt.Errorf("journal/jetstream: subscribe to replies: %w", err)
	}
	// A burst of acknowledgements may come faster than the handler runs
	// for a moment; they are small, and losing one costs a resolve.
	if err := sub.SetPendingLimits(-1, 256<<20); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// register returns a new reply subject whose messages go to w, until w
// reports the last one or forget is called.
func (r *replies) register(w replier) (token, subject string) {
	r.mu.Lock()
	r.next++
	token = strconv.FormatUint(r.next, 36)
	r.waiting[token] = w
	r.mu.Unlock()
	return token, r.prefix + token
}

// forget stops routing the replies of token.
func (r *replies) forget(token string) {
	r.mu.Lock()
	delete(r.waiting, token)
	r.mu.Unlock()
}

func (r *replies) handle(m *nats.Msg) {
	if len(m.Subject) <= len(r.prefix) {
		return
	}
	token := m.Subject[len(r.prefix):]
	r.mu.Lock()
	w := r.waiting[token]
	r.mu.Unlock()
	if w != nil && w.reply(m) {
		r.forget(token)
	}
}

// close ends the subscription, and the requests still waiting with err.
func (r *replies) close(err error) {
	// A closed connection has dropped the subscription already.
	_ = r.sub.Unsubscribe()
	r.mu.Lock()
	waiting := slices.Collect(maps.Values(r.waiting))
	r.mu.Unlock()
	for _, w := range waiting {
		if q, ok := w.(*request); ok {
			q.done.set(err)
		}
	}
}

// request is one request waiting for its reply, or for a batch of them
// ended by a status message.
type request struct {
	batch bool
	done  *signal

	mu   sync.Mutex
	msgs []*nats.Msg
	last bool
}

func (q *request) reply(m *nats.Msg) bool {
	q.mu.Lock()
	if q.last {
		q.mu.Unlock()
		return true
	}
	q.msgs = append(q.msgs, m)
	q.last = !q.batch || m.Header.Get(hdrStatus) != ""
	last := q.last
	q.mu.Unlock()
	if last {
		q.done.set(nil)
	}
	return last
}

// errNoResponders reports a request that nobody could answer: no stream
// (or no stream leader) for it, or no JetStream.
var errNoResponders = errors.New("no responders")

// do sends m and returns the reply, or the replies of a batch up to and
// including the status message that ends it. It fails with ctx's error, or
// after timeout without a (complete) reply.
func (r *replies) do(ctx context.Context, m *nats.Msg, batch bool, timeout time.Duration) ([]*nats.Msg, error) {
	q := &request{batch: batch, done: newSignal()}
	token, reply := r.register(q)
	defer r.forget(token)
	if err := r.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Reply: reply, Header: m.Header, Data: m.Data}); err != nil {
		return nil, err
	}
	t := time.AfterFunc(timeout, func() { q.done.set(fmt.Errorf("%s: %w", m.Subject, nats.ErrTimeout)) })
	defer t.Stop()
	defer context.AfterFunc(ctx, func() { q.done.set(ctx.Err()) })()
	if err := q.done.wait(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if last := q.msgs[len(q.msgs)-1]; len(last.Data) == 0 && last.Header.Get(hdrStatus) == "503" {
		return nil, fmt.Errorf("%s: %w", m.Subject, errNoResponders)
	}
	return q.msgs, nil
}

// api sends a JetStream API request, req encoded as JSON (nil for none),
// and decodes the response into resp (nil to ignore it). A response that
// reports an error gives an [*natsjs.APIError].
func (r *replies) api(ctx context.Context, subject string, req, resp any, timeout time.Duration) error {
	var data []byte
	if req != nil {
		var err error
		if data, err = json.Marshal(req); err != nil {
			return err
		}
	}
	msgs, err := r.do(ctx, &nats.Msg{Subject: subject, Data: data}, false, timeout)
	if err != nil {
		return err
	}
	return decodeAPI(msgs[0].Data, resp)
}

// decodeAPI decodes a JetStream API response into resp, or returns the
// error it reports as an [*natsjs.APIError].
func decodeAPI(data []byte, resp any) error {
	var e struct {
		Error *natsjs.APIError `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("journal/jetstream: bad JetStream response: %w", err)
	}
	if e.Error != nil {
		return e.Error
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("journal/jetstream: bad JetStream response: %w", err)
	}
	return nil
}

// apiCode returns the JetStream error code of err, 0 if it has none.
func apiCode(err error) natsjs.ErrorCode {
	if e, ok := errors.AsType[*natsjs.APIError](err); ok {
		return e.ErrorCode
	}
	return 0
}

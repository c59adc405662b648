package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/sse"
)

// Causes for cancelling a context, told apart with context.Cause.
var (
	errClosed   = errors.New("client: stream closed")
	errRestart  = errors.New("client: restart requested")
	errReleased = errors.New("client: connection released")
)

// Stream is an event stream with EventSource semantics: it delivers the
// events of one connection after another, reconnecting when a connection
// ends or fails, and resuming from the last event ID, over any
// [Transport].
//
// A Stream is read by one goroutine at a time, through [Stream.Events] or
// [Stream.Run]; the callbacks of its [Subscriber] and its listeners run on
// that goroutine (or on the one calling [Subscriber.Connect]). Its other
// methods are safe to call from any goroutine, listeners included.
type Stream struct {
	cfg      Subscriber
	client   *http.Client
	ctx      context.Context
	cancel   context.CancelCauseFunc
	restartc chan struct{} // cuts a reconnection wait short

	state atomic.Int32

	mu        sync.Mutex
	lastID    string
	listeners map[string][]*listener
	conn      *conn // the open connection; nil between connections
	reading   bool  // Events or Run is reading
	closed    bool  // the stream has ended for good
	err       error // why it ended; nil when closed by Close

	// Owned by the reading goroutine.
	retry     time.Duration // the reconnection time
	failures  int           // attempts since the last good connection
	failing   time.Time     // when the first of those failures was
	lastErr   error         // of the last attempt
	immediate bool          // reconnect without waiting (Restart)
	// Polling: how long the hub holds a poll, and the presence ID that
	// makes successive polls one subscriber.
	pollWait       time.Duration
	pollSubscriber string
}

type listener struct{ fn func(sse.Event) }

func newStream(ctx context.Context, s *Subscriber) *Stream {
	st := &Stream{
		cfg:       *s,
		client:    s.HTTPClient,
		restartc:  make(chan struct{}, 1),
		lastID:    s.LastEventID,
		listeners: make(map[string][]*listener),
		retry:     s.InitialRetry,
		pollWait:  defaultPollWait,
	}
	st.cfg.Header = s.Header.Clone()
	if st.client == nil {
		st.client = http.DefaultClient
	}
	if st.retry <= 0 {
		st.retry = DefaultInitialRetry
	}
	if st.cfg.MaxRetry <= 0 {
		st.cfg.MaxRetry = DefaultMaxRetry
	}
	st.ctx, st.cancel = context.WithCancelCause(ctx)
	return st
}

// Events returns an iterator over the stream's events, across
// reconnections. Each event is also given to the listeners of its type
// first. The iteration ends when the stream ends: after [Stream.Close]
// without error, or with one last error (and a zero Event) when the
// context is cancelled or a response closes the stream for good (see
// [ErrBadStatus] and [ErrBadContentType]).
//
// Breaking out of the loop leaves the stream as it is: a later call to
// Events or Run resumes where this one stopped. Call Close when done.
func (st *Stream) Events() iter.Seq2[sse.Event, error] {
	return func(yield func(sse.Event, error) bool) {
		err := st.read(func(ev sse.Event) bool { return yield(ev, nil) })
		if err != nil {
			yield(sse.Event{}, err)
		}
	}
}

// Run reads the stream, giving each event to the listeners of its type,
// until the stream ends. It returns nil after [Stream.Close], the
// context's error if the context was cancelled, or the error that closed
// the stream for good.
func (st *Stream) Run() error {
	return st.read(nil)
}

// AddListener registers fn to receive the events of type eventType, where
// "message" (or "") stands for events that name no type, as in the
// browser's addEventListener. Listeners of a type are called in the order
// they were added. The returned function removes the listener.
func (st *Stream) AddListener(eventType string, fn func(sse.Event)) (remove func()) {
	if eventType == "" {
		eventType = "message"
	}
	l := &listener{fn: fn}
	st.mu.Lock()
	defer st.mu.Unlock()
	// Copy on write: dispatch iterates over a slice without holding mu.
	ls := st.listeners[eventType]
	st.listeners[eventType] = append(ls[:len(ls):len(ls)], l)
	return sync.OnceFunc(func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		ls := slices.Clone(st.listeners[eventType])
		st.listeners[eventType] = slices.DeleteFunc(ls, func(x *listener) bool { return x == l })
	})
}

// ReadyState returns the stream's state.
func (st *Stream) ReadyState() ReadyState { return ReadyState(st.state.Load()) }

// LastEventID returns the ID that the stream resumes from when it
// reconnects ("" for none): the last ID the server set, or
// [Subscriber.LastEventID] until it sets one. SSE sends it as
// Last-Event-ID, polling and WebSocket as their lastEventID cursor; since
// every transport counts in the same IDs, a new Subscriber given it on
// another transport goes on from the same event.
func (st *Stream) LastEventID() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastID
}

// Restart drops the current connection and reconnects at once, as though
// the server had ended it, without reporting an error. If the stream is
// waiting to reconnect, it stops waiting.
func (st *Stream) Restart() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.conn != nil {
		st.conn.cancel(errRestart)
		return
	}
	select {
	case st.restartc <- struct{}{}:
	default:
	}
}

// Close ends the stream for good. A read in progress returns (Run returns
// nil). Close always returns nil.
func (st *Stream) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cancel(errClosed)
	if !st.reading && !st.closed {
		// Nobody reads, so nobody else will release the connection.
		st.closed = true
		if st.conn != nil {
			st.conn.release()
			st.conn = nil
		}
		st.state.Store(int32(Closed))
	}
	return nil
}

// read drives the stream until it ends or yield returns false.
func (st *Stream) read(yield func(sse.Event) bool) error {
	st.mu.Lock()
	if st.closed {
		err := st.err
		st.mu.Unlock()
		return err
	}
	if st.reading {
		st.mu.Unlock()
		return ErrAlreadyReading
	}
	st.reading = true
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.reading = false
		st.mu.Unlock()
	}()

	for {
		c := st.conn // only the reader sets conn
		if c == nil {
			if err := st.reconnect(); err != nil {
				return st.finish(err)
			}
			continue
		}
		ev, err := c.src.next()
		if err != nil {
			if err := st.drop(c, err); err != nil {
				return st.finish(err)
			}
			continue
		}
		st.setLastID(c.src.cursor())
		st.dispatch(ev)
		if yield != nil && !yield(ev) {
			return nil
		}
	}
}

// dispatch gives ev to the listeners of its type.
func (st *Stream) dispatch(ev sse.Event) {
	eventType := ev.Type
	if eventType == "" {
		eventType = "message"
	}
	st.mu.Lock()
	ls := st.listeners[eventType]
	st.mu.Unlock()
	for _, l := range ls {
		l.fn(ev)
	}
}

// connect makes one connection attempt.
func (st *Stream) connect() error {
	st.state.Store(int32(Connecting))
	c := st.newConn()
	var err error
	switch st.cfg.Transport {
	case TransportPoll:
		err = st.openPoll(c)
	case TransportWebSocket:
		err = st.openWebSocket(c)
	default:
		err = st.openEventStream(c)
	}
	if err != nil {
		c.release()
		return err
	}
	c.opened = time.Now()

	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		c.release()
		return errClosed
	}
	st.conn = c
	st.mu.Unlock()
	select {
	case <-st.restartc: // asked for during the attempt, which is now done
	default:
	}
	st.state.Store(int32(Open))
	if st.cfg.OnOpen != nil {
		st.cfg.OnOpen()
	}
	return nil
}

// drop ends connection c after its decoder failed with err. It returns nil
// if the stream is to reconnect, or the error that ends it.
func (st *Stream) drop(c *conn, err error) error {
	cause := context.Cause(c.ctx)
	st.mu.Lock()
	st.conn = nil
	st.mu.Unlock()
	c.release()
	if st.ctx.Err() != nil {
		return context.Cause(st.ctx)
	}
	if r := c.src.retry(); r > 0 {
		st.retry = r
	}
	st.setLastID(c.src.cursor())
	if errors.Is(err, sse.ErrLineTooLong) || errors.Is(err, sse.ErrEventTooLarge) {
		return err
	}
	st.state.Store(int32(Connecting))
	if cause == errRestart {
		st.failures = 0
		st.immediate = true
		return nil
	}
	switch {
	case cause == ErrReadTimeout:
		err = ErrReadTimeout
	case err == io.EOF:
		err = ErrStreamEnded
	}
	// A connection is good if the server said something on it, or kept it
	// as long as the longest wait; otherwise the backoff keeps growing.
	if c.read > 0 || time.Since(c.opened) >= max(st.cfg.MaxRetry, st.retry) {
		st.failures, st.failing = 0, time.Time{}
	} else {
		st.failed()
	}
	st.lastErr = err
	// A poll or a socket can be refused on an open connection, where an
	// event stream can only end: the refusal counts as it does for a
	// reconnection.
	var status *StatusError
	var closed *CloseError
	switch {
	case errors.As(err, &status) && status.Temporary():
		st.report(err)
		return st.wait(status.RetryAfter)
	case errors.Is(err, ErrBadStatus), errors.Is(err, ErrBadContentType):
		return err
	case errors.As(err, &closed) && !closed.Temporary():
		return err
	}
	st.report(err)
	return nil
}

// failed counts a failed attempt.
func (st *Stream) failed() {
	st.failures++
	if st.failing.IsZero() {
		st.failing = time.Now()
	}
}

// givenUp returns the error that ends the stream when its MaxAttempts or
// MaxElapsed is spent.
func (st *Stream) givenUp() error {
	switch {
	case st.cfg.MaxAttempts > 0 && st.failures >= st.cfg.MaxAttempts:
		return fmt.Errorf("%w after %d failed attempts: %w", ErrGaveUp, st.failures, st.lastErr)
	case st.cfg.MaxElapsed > 0 && !st.failing.IsZero() && time.Since(st.failing) >= st.cfg.MaxElapsed:
		return fmt.Errorf("%w after %v without a connection: %w", ErrGaveUp, time.Since(st.failing).Round(time.Millisecond), st.lastErr)
	}
	return nil
}

// reconnect waits and attempts until a connection opens (nil), or returns
// the error that ends the stream.
func (st *Stream) reconnect() error {
	for {
		if err := st.givenUp(); err != nil {
			return err
		}
		if !st.immediate {
			d := backoff(st.retry, st.cfg.MaxRetry, st.failures+1, rand.Int64N)
			if err := st.wait(d); err != nil {
				return err
			}
		}
		st.immediate = false
		err := st.connect()
		st.lastErr = err
		var status *StatusError
		switch {
		case err == nil:
			st.failing = time.Time{}
			return nil
		case st.ctx.Err() != nil:
			return context.Cause(st.ctx)
		case errors.As(err, &status) && status.Temporary():
			// The server says "not now" (draining, over its limit): wait
			// as long as it asks, then go on with the backoff.
			st.failed()
			if err := st.givenUp(); err != nil {
				return err
			}
			st.report(err)
			if err := st.wait(status.RetryAfter); err != nil {
				return err
			}
			continue
		case errors.Is(err, ErrBadStatus), errors.Is(err, ErrBadContentType):
			return err
		}
		st.failed()
		if err := st.givenUp(); err != nil {
			return err
		}
		st.report(err)
	}
}

// wait sleeps for d, or less if the stream is restarted or closed.
func (st *Stream) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-st.restartc:
		return nil
	case <-st.ctx.Done():
		return context.Cause(st.ctx)
	}
}

// finish ends the stream for good because of err and returns what a read
// reports: nil if the stream was closed by Close, the context's cause if it
// was cancelled, else err, which is also reported to OnError.
func (st *Stream) finish(err error) error {
	switch {
	case st.ctx.Err() == nil:
		st.state.Store(int32(Closed)) // as OnError documents
		st.report(err)
	case context.Cause(st.ctx) == errClosed:
		err = nil
	default:
		err = context.Cause(st.ctx)
	}
	st.cancel(errClosed)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	st.err = err
	if st.conn != nil {
		st.conn.release()
		st.conn = nil
	}
	st.state.Store(int32(Closed))
	return err
}

func (st *Stream) setLastID(id string) {
	st.mu.Lock()
	st.lastID = id
	st.mu.Unlock()
}

func (st *Stream) report(err error) {
	if st.cfg.OnError != nil {
		st.cfg.OnError(err)
	}
}

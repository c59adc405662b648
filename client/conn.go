package client

import (
	"context"
	"io"
	"time"

	"github.com/heraldhub/herald/sse"
)

// conn is one connection of a stream: an event stream response, a run of
// polls, or a WebSocket. What is transport-neutral — cancellation, the read
// timeout, whether the server said anything — lives here; the transport
// is its source.
type conn struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	src    source // nil until the connection opens
	// timer fires after timeout without a byte; nil without a read timeout.
	timer   *time.Timer
	timeout time.Duration
	opened  time.Time
	read    int64 // bytes received
}

// source is what a transport delivers on one connection. Its methods are
// called by the stream's reading goroutine, except close, which may be
// called by any goroutine once the connection's context is cancelled.
type source interface {
	// next returns the next event, or the error that ended the
	// connection.
	next() (sse.Event, error)
	// cursor is the position to resume from after the events returned so
	// far: what the stream sends as its last event ID when it reconnects.
	cursor() string
	// retry is the reconnection time the server asked for, 0 if none.
	retry() time.Duration
	close()
}

// newConn returns a connection of st whose context ends with the stream's,
// with the read timer running if the stream has a read timeout: it covers
// the wait for the first answer too, since a server that accepts the
// connection and says nothing is as dead as one that stops sending.
func (st *Stream) newConn() *conn {
	ctx, cancel := context.WithCancelCause(st.ctx)
	c := &conn{ctx: ctx, cancel: cancel, timeout: st.cfg.ReadTimeout}
	if c.timeout > 0 {
		c.timer = time.AfterFunc(c.timeout, func() { cancel(ErrReadTimeout) })
	}
	return c
}

// received counts n bytes read and restarts the read timeout.
func (c *conn) received(n int) {
	if n > 0 {
		c.read += int64(n)
		if c.timer != nil {
			c.timer.Reset(c.timeout)
		}
	}
}

// extendTimeout gives the next read d more than the read timeout: for a
// poll that the server may hold that long before answering.
func (c *conn) extendTimeout(d time.Duration) {
	if c.timer != nil {
		c.timer.Reset(c.timeout + d)
	}
}

// timeoutErr returns ErrReadTimeout if the read timeout cut the connection,
// else err.
func (c *conn) timeoutErr(err error) error {
	if context.Cause(c.ctx) == ErrReadTimeout {
		return ErrReadTimeout
	}
	return err
}

// release ends the connection and frees its resources. It may be called
// more than once.
func (c *conn) release() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(errReleased)
	if c.src != nil {
		c.src.close()
	}
}

// readCounter calls counted with the number of every batch of bytes read.
type readCounter struct {
	r       io.Reader
	counted func(int)
}

func (rc readCounter) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.counted(n)
	return n, err
}

package push

import (
	"errors"
	"time"
)

// Source is the subscriber side of a stream: a session, through its
// transport, which chooses the frames' format.
type Source interface {
	// Frames appends the frames due to dst and returns it, emptying the
	// source's queue. Frames may be shared with other streams and are
	// never modified.
	Frames(dst [][]byte) [][]byte
	// Heartbeat is the keep-alive frame of an idle stream.
	Heartbeat() []byte
	// Goodbye is the last frame to write when the stream ends for reason,
	// or nil.
	Goodbye(reason error) []byte
	// Ready is signalled when frames are due. The pool does not use it:
	// it is woken through [Conn.Wake].
	Ready() <-chan struct{}
	// Done is closed when the stream must end; Err says why (nil before).
	Done() <-chan struct{}
	Err() error
	// Closed is called once by a [Pool], after the connection closed,
	// with the reason. It must not block. ([Stream] returns the reason
	// instead.)
	Closed(reason error)
}

// Receiver is a [Source] whose client talks too: a WebSocket. A [Pool]
// reads such a connection when its socket is readable, from a goroutine
// that lives only while there are bytes to read, and hands them to
// Receive: in order, never concurrently. Receive may block (to wait for
// room for its replies, or for the journal); the connection is not read
// meanwhile. data is valid only during the call. An error stops the
// reading and ends the stream for that reason, with the source's
// Goodbye.
type Receiver interface {
	Receive(data []byte) error
}

// Meter is a [Source] that counts the bytes written to its connection
// (for metrics). The writers call Sent after each write, from the
// writing goroutine, with the bytes that reached the socket; it must be
// cheap and must not block.
type Meter interface {
	Sent(n int)
}

// Why a writer closed a stream on its own.
var (
	// ErrClientGone: the client closed the connection.
	ErrClientGone = errors.New("client closed the connection")
	// ErrPoolClosed: the pool was closed with the stream still open.
	ErrPoolClosed = errors.New("push: pool closed")
)

// quiet is the heartbeat rule of both writers: at each tick of the
// interval, a stream that has written nothing for half an interval gets a
// keep-alive frame. A busy stream never does, and an idle one gets one per
// interval.
func quiet(lastWrite, now time.Time, interval time.Duration) bool {
	return now.Sub(lastWrite) >= interval/2
}

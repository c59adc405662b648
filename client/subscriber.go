package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhub/herald/sse"
)

// Defaults for the zero values of [Subscriber]'s durations.
const (
	// DefaultInitialRetry is the reconnection time until the server sets one
	// with `retry:`; browsers use a few seconds too.
	DefaultInitialRetry = 3 * time.Second
	// DefaultMaxRetry caps the backoff between consecutive failed attempts.
	DefaultMaxRetry = 30 * time.Second
)

// Subscriber describes an event-stream subscription: where to connect, how
// and how to react. The zero value of each field but URL selects a
// sensible default. A Subscriber may be used for any number of
// [Subscriber.Connect] calls; it must not be modified during one.
type Subscriber struct {
	// URL is the event stream's address: for a Mercure hub, the hub URL
	// with the `topic` selectors as query parameters.
	URL string
	// Transport is how the events come; the zero value is TransportSSE.
	Transport Transport
	// Method is the request method; "" means GET. SSE only.
	Method string
	// Header holds extra request headers, such as Authorization. They
	// replace the defaults (Accept: text/event-stream and
	// Cache-Control: no-cache for SSE; Accept: application/json and
	// Cache-Control: no-store for polling); Last-Event-ID is always the
	// stream's own. Over WebSocket they go with the handshake. On a
	// redirect to another host, net/http drops Authorization and Cookie
	// but keeps the other headers, Last-Event-ID included.
	Header http.Header
	// Body, if not nil, is sent as the request body on every connection.
	// SSE only.
	Body []byte
	// HTTPClient sends the requests; nil means http.DefaultClient. Its
	// Timeout must be zero, or it would cut every stream: use ReadTimeout.
	// A WebSocket is dialled directly, with the TLS configuration of the
	// client's *http.Transport, if it has one.
	HTTPClient *http.Client
	// LastEventID, if not empty, is where the first connection resumes
	// from (Last-Event-ID, or the lastEventID cursor of a poll or a
	// WebSocket subscription), as though a previous one had received that
	// ID; "earliest" asks a Herald hub for everything it keeps.
	LastEventID string
	// InitialRetry is the reconnection time until the server sets one with
	// `retry:`; 0 means DefaultInitialRetry.
	InitialRetry time.Duration
	// MaxRetry caps the backoff that grows while reconnection attempts keep
	// failing; 0 means DefaultMaxRetry. A larger `retry:` from the server
	// still wins.
	MaxRetry time.Duration
	// ReadTimeout, if positive, is how long a connection may stay silent:
	// when no byte arrives for that long (heartbeats and WebSocket pings
	// count), the connection is dropped with [ErrReadTimeout] and the
	// stream reconnects. A long poll may be silent for its wait and then
	// ReadTimeout.
	ReadTimeout time.Duration
	// MaxLineSize and MaxEventSize bound the memory an event may take; 0
	// selects the [sse.Decoder] defaults. Over WebSocket, MaxEventSize
	// bounds a whole message. A stream that exceeds them is closed with
	// sse.ErrLineTooLong or sse.ErrEventTooLarge rather than reconnected,
	// since resuming would meet the same event again.
	MaxLineSize, MaxEventSize int

	// PollWait is how long the hub may hold a long poll before answering
	// that nothing came; 0 means as long as the hub allows (Herald:
	// --poll-max-wait, 30 s by default). PollLimit, if positive, caps the
	// events of one answer (Herald: 100 by default, at most 1,000).
	PollWait  time.Duration
	PollLimit int

	// BeforeConnect, if set, is called before each connection attempt with
	// the request about to be sent (the event stream's, each poll's, or the
	// WebSocket handshake's: its URL and headers are used), to refresh a
	// token or sign the request. An error fails the attempt, which is
	// retried like any other.
	BeforeConnect func(req *http.Request) error
	// MaxAttempts, if positive, ends the stream after that many
	// consecutive failed attempts to connect; MaxElapsed, if positive,
	// after that long without an open connection (counted from the first
	// failure). The stream then ends with [ErrGaveUp] wrapping the last
	// error. By default a stream retries for as long as the failures are
	// ones a retry can cure.
	MaxAttempts int
	MaxElapsed  time.Duration

	// OnOpen, if set, is called each time a connection opens.
	OnOpen func()
	// OnError, if set, is called with every error: each failed attempt and
	// each lost connection (before the stream reconnects), and the error
	// that closes the stream for good, when [Stream.ReadyState] is already
	// Closed (as a browser's EventSource is when its last error fires). It
	// is not called when the stream is closed by [Stream.Close] or its
	// context.
	OnError func(error)
	// OnComment, if set, is called with the text of each comment line (less
	// the colon and one leading space), heartbeats included. SSE only.
	OnComment func(text string)
	// OnCursorUnknown, if set, is called when the stream resumed from an
	// event ID (its LastEventID, or the last ID it received) that the hub
	// did not know — never stored, from a wiped journal, or older than
	// its retention — and so replays from the oldest event it retains:
	// events between the two may be lost, and a client that keeps state
	// should rebuild it. It is called with the unknown ID, before the
	// replayed events, on every transport: Herald says so with
	// `Last-Event-ID: earliest` on an event stream, `"earliest": true` in a
	// poll answer or a WebSocket's `subscribed`.
	OnCursorUnknown func(id string)
}

// ReadyState is the state of a [Stream]; its values are those of the
// browser's EventSource.readyState.
type ReadyState int32

const (
	// Connecting means the stream is opening a connection or waiting to.
	Connecting ReadyState = iota
	// Open means a connection is open and delivering events.
	Open
	// Closed means the stream has ended for good.
	Closed
)

func (s ReadyState) String() string {
	switch s {
	case Connecting:
		return "CONNECTING"
	case Open:
		return "OPEN"
	case Closed:
		return "CLOSED"
	}
	return fmt.Sprintf("ReadyState(%d)", int32(s))
}

// checkCursor calls OnCursorUnknown if the hub did not know the cursor
// sent. A stream that sent none, or asked for everything retained, lost
// nothing.
func (st *Stream) checkCursor(sent string, unknown bool) {
	if unknown && sent != "" && sent != earliest && st.cfg.OnCursorUnknown != nil {
		st.cfg.OnCursorUnknown(sent)
	}
}

// Connect opens the event stream and returns it once the first connection
// is open. If that first attempt fails, for any reason, Connect returns the
// error (also given to OnError) and no stream: a subscription that never
// worked is more likely misconfigured than unlucky. From then on the
// stream reconnects by itself.
//
// ctx bounds the whole life of the stream: cancelling it closes the stream
// as [Stream.Close] does.
func (s *Subscriber) Connect(ctx context.Context) (*Stream, error) {
	if err := (sse.Event{ID: s.LastEventID}).Validate(); err != nil {
		return nil, fmt.Errorf("client: LastEventID: %w", err)
	}
	st := newStream(ctx, s)
	if err := st.connect(); err != nil {
		return nil, st.finish(err)
	}
	return st, nil
}

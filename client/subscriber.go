package client

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"mime"
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
	// URL is the event stream's address.
	URL string
	// Method is the request method; "" means GET.
	Method string
	// Header holds extra request headers, such as Authorization. They
	// replace the defaults (Accept: text/event-stream and
	// Cache-Control: no-cache); Last-Event-ID is always the stream's own.
	// On a redirect to another host, net/http drops Authorization and
	// Cookie but keeps the other headers, Last-Event-ID included.
	Header http.Header
	// Body, if not nil, is sent as the request body on every connection.
	Body []byte
	// HTTPClient sends the requests; nil means http.DefaultClient. Its
	// Timeout must be zero, or it would cut every stream: use ReadTimeout.
	HTTPClient *http.Client
	// LastEventID, if not empty, is sent as Last-Event-ID on the first
	// connection, as though a previous one had received that ID.
	LastEventID string
	// InitialRetry is the reconnection time until the server sets one with
	// `retry:`; 0 means DefaultInitialRetry.
	InitialRetry time.Duration
	// MaxRetry caps the backoff that grows while reconnection attempts keep
	// failing; 0 means DefaultMaxRetry. A larger `retry:` from the server
	// still wins.
	MaxRetry time.Duration
	// ReadTimeout, if positive, is how long a connection may stay silent:
	// when no byte arrives for that long (heartbeats count), the connection
	// is dropped with [ErrReadTimeout] and the stream reconnects.
	ReadTimeout time.Duration
	// MaxLineSize and MaxEventSize bound the memory an event may take; 0
	// selects the [sse.Decoder] defaults. A stream that exceeds them is
	// closed with sse.ErrLineTooLong or sse.ErrEventTooLarge rather than
	// reconnected, since resuming would meet the same event again.
	MaxLineSize, MaxEventSize int

	// OnOpen, if set, is called each time a connection opens.
	OnOpen func()
	// OnError, if set, is called with every error: each failed attempt and
	// each lost connection (before the stream reconnects), and the error
	// that closes the stream for good. It is not called when the stream is
	// closed by [Stream.Close] or its context.
	OnError func(error)
	// OnComment, if set, is called with the text of each comment line (less
	// the colon and one leading space), heartbeats included.
	OnComment func(text string)
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

// newRequest builds the request for one connection.
func (st *Stream) newRequest(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if st.cfg.Body != nil {
		body = bytes.NewReader(st.cfg.Body)
	}
	method := cmp.Or(st.cfg.Method, http.MethodGet)
	req, err := http.NewRequestWithContext(ctx, method, st.cfg.URL, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	for name, values := range st.cfg.Header {
		req.Header.Del(name)
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	req.Header.Del("Last-Event-ID")
	if id := st.LastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	return req, nil
}

// checkResponse returns the error that makes resp unusable as an event
// stream: a status other than 200, or a media type other than
// text/event-stream. An error message is read from body, which reads
// resp.Body; the caller closes it.
func checkResponse(resp *http.Response, body io.Reader) error {
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp, body)
	}
	ct := resp.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	// A malformed parameter does not change the essence, which is all that
	// the standard checks.
	if (err != nil && err != mime.ErrInvalidMediaParameter) || mediaType != "text/event-stream" {
		return fmt.Errorf("%w: %q", ErrBadContentType, ct)
	}
	return nil
}

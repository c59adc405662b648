package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

var (
	// ErrBadStatus reports a response whose status is not 200 OK. For a
	// subscription it is final: a server answers 204 No Content to tell a
	// client to stop reconnecting. Errors of type [*StatusError] match it
	// with errors.Is.
	ErrBadStatus = errors.New("client: unexpected HTTP status")
	// ErrBadContentType reports a subscription response whose media type is
	// not text/event-stream. It is final: the stream is closed.
	ErrBadContentType = errors.New("client: response is not text/event-stream")
	// ErrReadTimeout reports a connection that received no byte, heartbeat
	// included, for [Subscriber.ReadTimeout]. The stream reconnects.
	ErrReadTimeout = errors.New("client: read timeout")
	// ErrStreamEnded reports a connection that the server ended. The stream
	// reconnects.
	ErrStreamEnded = errors.New("client: server ended the stream")
	// ErrAlreadyReading reports a call to [Stream.Events] or [Stream.Run]
	// while another one is reading the same stream.
	ErrAlreadyReading = errors.New("client: stream is already being read")
	// ErrNoTopic reports an [Update] without a topic; the hub would refuse it.
	ErrNoTopic = errors.New("client: update has no topic")
)

// StatusError is the error for a response whose status is not 200 OK. It
// matches [ErrBadStatus] with errors.Is.
type StatusError struct {
	// StatusCode is the response's HTTP status code.
	StatusCode int
	// Message is the start of the response body, which is where servers
	// explain a refusal; it may be empty.
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("client: HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns [ErrBadStatus].
func (e *StatusError) Unwrap() error { return ErrBadStatus }

// maxMessage bounds how much of an error response is read: enough for any
// explanation, and never a stream that a misbehaving server keeps open.
const maxMessage = 512

// newStatusError returns the StatusError for status, with the start of the
// response body as its message.
func newStatusError(status int, body io.Reader) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(body, maxMessage))
	return &StatusError{
		StatusCode: status,
		Message:    strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD")),
	}
}

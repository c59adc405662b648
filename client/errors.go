package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrBadStatus reports a response whose status is not 200 OK. For a
	// subscription it is final — a server answers 204 No Content to tell a
	// client to stop reconnecting — except on a reconnection answered with
	// a temporary status (see [StatusError.Temporary]). Errors of type
	// [*StatusError] match it with errors.Is.
	ErrBadStatus = errors.New("client: unexpected HTTP status")
	// ErrBadContentType reports a subscription response whose media type is
	// not the transport's: text/event-stream, or application/json for
	// polling. It is final: the stream is closed.
	ErrBadContentType = errors.New("client: unexpected response media type")
	// ErrReadTimeout reports a connection that received no byte, heartbeat
	// included, for [Subscriber.ReadTimeout]. The stream reconnects.
	ErrReadTimeout = errors.New("client: read timeout")
	// ErrStreamEnded reports a connection that the server ended. The stream
	// reconnects.
	ErrStreamEnded = errors.New("client: server ended the stream")
	// ErrGaveUp ends a stream whose [Subscriber.MaxAttempts] or
	// [Subscriber.MaxElapsed] is spent; it wraps the last attempt's error.
	ErrGaveUp = errors.New("client: gave up reconnecting")
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
	// RetryAfter is the wait the response's Retry-After header asked for
	// (0 when absent or unreadable).
	RetryAfter time.Duration
}

// Temporary reports whether the status says "not now" rather than "no":
// 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable and 504
// Gateway Timeout. A server draining for a restart, or over its connection
// limit, answers so; a [Stream] that was open waits and reconnects.
func (e *StatusError) Temporary() bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
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

// newStatusError returns the StatusError for a response, with the start of
// its body as the message.
func newStatusError(resp *http.Response, body io.Reader) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(body, maxMessage))
	return &StatusError{
		StatusCode: resp.StatusCode,
		Message:    strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD")),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// CloseError reports a WebSocket that the hub closed, with the close code
// and reason it gave (docs/protocol.md lists them). A [Stream] reconnects
// after a temporary one (see [CloseError.Temporary]) and ends with the
// others.
type CloseError struct {
	// Code is the WebSocket close code, such as 4408 for a slow consumer.
	Code int
	// Reason is the text the hub gave with the code; it may be empty.
	Reason string
}

func (e *CloseError) Error() string {
	s := fmt.Sprintf("client: websocket closed by the hub with %d", e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Temporary reports whether a new connection may fare better. It is false
// for the codes that say the client must change first: 1002 (protocol
// error), 1003 (a binary message), 1007 (a message that is not UTF-8),
// 1009 (a message too big), 4401 (the token expired) and 4403 (a token for
// another subject); it is true for every other code, among them 1000, 1001
// (going away: shutdown or maximum lifetime), 1011 (internal error) and
// 4408 (slow consumer).
func (e *CloseError) Temporary() bool {
	switch e.Code {
	case 1002, 1003, 1007, 1009, 4401, 4403:
		return false
	}
	return true
}

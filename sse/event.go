package sse

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one server-sent event: the fields of one block of the event
// stream, ended by a blank line.
type Event struct {
	// ID is the `id:` field. When encoding, an empty ID writes no `id:` line,
	// so the client keeps the last event ID it already has; a stream cannot
	// reset the client's ID through Event. When decoding, ID is the stream's
	// last event ID at the moment the event was dispatched, as the browser's
	// MessageEvent.lastEventId is: set by this block or by an earlier one.
	ID string
	// Type is the `event:` field. Empty means "message"; an empty Type writes
	// no `event:` line, and the decoder reports the type exactly as sent
	// ("" when the block had none).
	Type string
	// Data is the payload: the block's `data:` lines joined with "\n". When
	// encoding, every CR, LF and CRLF in Data starts a new `data:` line, so
	// a decoder sees each of them as "\n".
	Data []byte
	// Retry is the reconnection time. When encoding, a positive Retry is
	// written as `retry:` in milliseconds, rounded up. When decoding, it is
	// the value of a valid `retry:` field inside this event's block, else 0;
	// [Decoder.Retry] holds the value for the whole stream.
	Retry time.Duration
}

var (
	// ErrInvalidField reports an ID or Type that contains a CR, LF or NUL.
	// Such a field cannot be written without changing the meaning of the
	// stream (a line break would inject fields), so it is refused rather than
	// rewritten. The returned error wraps ErrInvalidField and names the field.
	ErrInvalidField = errors.New("sse: invalid field")
	// ErrLineTooLong reports a line longer than [Decoder.MaxLineSize].
	ErrLineTooLong = errors.New("sse: line too long")
	// ErrEventTooLarge reports an event larger than [Decoder.MaxEventSize].
	ErrEventTooLarge = errors.New("sse: event too large")
)

// Prebuilt so that a refused field costs no allocation either.
var (
	errInvalidID   = fmt.Errorf("%w: id contains a CR, LF or NUL", ErrInvalidField)
	errInvalidType = fmt.Errorf("%w: event type contains a CR, LF or NUL", ErrInvalidField)
)

// Validate reports whether e can be encoded: it returns an error wrapping
// [ErrInvalidField] when ID or Type contains a CR, LF or NUL.
func (e Event) Validate() error {
	if strings.ContainsAny(e.ID, "\r\n\x00") {
		return errInvalidID
	}
	if strings.ContainsAny(e.Type, "\r\n\x00") {
		return errInvalidType
	}
	return nil
}

// AppendTo appends the frame of e to dst and returns the extended slice: an
// `id:` line if ID is set, an `event:` line if Type is set, a `retry:` line
// if Retry is positive, one `data:` line per line of Data (at least one, so
// that the event is dispatched even when Data is empty) and the blank line
// that ends the event. On error dst is returned unchanged.
//
// AppendTo does not allocate when dst has room for the frame.
func (e Event) AppendTo(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	if e.ID != "" {
		dst = appendField(dst, "id", e.ID)
	}
	if e.Type != "" {
		dst = appendField(dst, "event", e.Type)
	}
	if e.Retry > 0 {
		dst = appendRetryLine(dst, e.Retry)
	}
	data := e.Data
	for {
		line, rest, more := cutLine(data)
		dst = appendField(dst, "data", line)
		if !more {
			break
		}
		data = rest
	}
	return append(dst, '\n'), nil
}

// MarshalText returns the frame of e in a new slice; see [Event.AppendTo].
// Because Event implements [encoding.TextMarshaler], packages such as
// encoding/json and log/slog render an Event as its wire frame.
func (e Event) MarshalText() ([]byte, error) {
	// Room for the usual frame: one data line and the short field names.
	return e.AppendTo(make([]byte, 0, len(e.ID)+len(e.Type)+len(e.Data)+48))
}

// AppendComment appends text as comment lines to dst: ": " and the line for
// every line of text (split on CR, LF and CRLF), or a bare ":" for an empty
// line. Comments are ignored by clients; a comment is the usual heartbeat
// that keeps an idle connection and the proxies on its way open. It ends no
// event, so it may be written at any point between frames.
func AppendComment(dst []byte, text string) []byte {
	for {
		end := strings.IndexAny(text, "\r\n")
		line := text
		if end >= 0 {
			line = text[:end]
		}
		dst = appendField(dst, "", line)
		if end < 0 {
			return dst
		}
		if text[end] == '\r' && end+1 < len(text) && text[end+1] == '\n' {
			end++
		}
		text = text[end+1:]
	}
}

// AppendRetry appends a frame that only sets the client's reconnection time
// to d (rounded up to whole milliseconds; a negative d counts as 0). The
// frame has no data, so clients dispatch no event for it.
func AppendRetry(dst []byte, d time.Duration) []byte {
	return append(appendRetryLine(dst, max(d, 0)), '\n')
}

// AppendControl appends a frame with no data that sets the client's
// reconnection time to retry, when positive, and its last event ID to id,
// when not empty. Clients dispatch no event for it; but a client that
// reconnects afterwards sends id as its Last-Event-ID. A server that
// opens every stream with one (the subscriber's position) lets a client
// that drops before its first event resume from where it connected: by
// the spec's rules, the blank line ending any block sets the client's
// last event ID, to "" when the block had no id. With neither an id nor a
// retry, nothing is appended. An id that [Event] would refuse is refused
// the same way, and dst is returned unchanged.
func AppendControl(dst []byte, id string, retry time.Duration) ([]byte, error) {
	if err := (Event{ID: id}).Validate(); err != nil {
		return dst, err
	}
	if id == "" && retry <= 0 {
		return dst, nil
	}
	if retry > 0 {
		dst = appendRetryLine(dst, retry)
	}
	if id != "" {
		dst = appendField(dst, "id", id)
	}
	return append(dst, '\n'), nil
}

// appendField appends "name: value\n", or "name:\n" for an empty value.
// The space after the colon is always written when there is a value,
// because decoders strip exactly one leading space: a value that itself
// starts with a space keeps it.
func appendField[T string | []byte](dst []byte, name string, value T) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	if len(value) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, value...)
	}
	return append(dst, '\n')
}

func appendRetryLine(dst []byte, d time.Duration) []byte {
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++ // a positive retry never becomes "reconnect at once"
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, int64(ms), 10)
	return append(dst, '\n')
}

// cutLine splits s at its first line ending (CR, LF or CRLF). more reports
// whether a line ending was found; rest is what follows it.
func cutLine(s []byte) (line, rest []byte, more bool) {
	// Two vectorised scans beat one byte loop on anything but tiny data.
	end := bytes.IndexByte(s, '\n')
	if end < 0 {
		end = len(s)
	}
	if cr := bytes.IndexByte(s[:end], '\r'); cr >= 0 {
		if cr+1 < len(s) && s[cr+1] == '\n' {
			return s[:cr], s[cr+2:], true
		}
		return s[:cr], s[cr+1:], true
	}
	if end == len(s) {
		return s, nil, false
	}
	return s[:end], s[end+1:], true
}

package sse

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"math"
	"time"
	"unicode/utf8"
)

const (
	// DefaultMaxLineSize is the longest line a [Decoder] accepts when
	// MaxLineSize is 0. It is well above the 64 KiB at which line scanners
	// commonly give up, because single-line JSON payloads of a few hundred
	// KiB are ordinary in event streams.
	DefaultMaxLineSize = 1 << 20
	// DefaultMaxEventSize is the largest event a [Decoder] accepts when
	// MaxEventSize is 0.
	DefaultMaxEventSize = 4 << 20
)

const (
	// readSize is the initial buffer, grown only while a line does not fit.
	readSize = 4096
	// keepData is the largest data buffer kept between events; a larger one
	// is handed to the caller instead of copied, so that a decoder that once
	// saw a big event does not hold its memory while the stream idles.
	keepData = 64 << 10
	// maxEmptyReads bounds how often a broken reader may return 0, nil.
	maxEmptyReads = 100
)

var bom = []byte("\xEF\xBB\xBF")

// Decoder reads events from an event stream, following the parsing and
// interpretation rules of the WHATWG HTML standard to the letter: one
// leading byte order mark is skipped; CR, LF and CRLF end lines (also when a
// CRLF is split between two reads); the stream is decoded as UTF-8 with
// ill-formed sequences replaced by U+FFFD; comments and unknown fields are
// ignored; an `id` containing NUL is ignored; `retry` counts only when it
// is all ASCII digits; and an event that the stream has not finished when
// it ends is discarded.
//
// Memory is bounded by MaxLineSize and MaxEventSize. The zero value of
// these fields selects the defaults; set them before the first call to
// [Decoder.Next]. A Decoder is not safe for concurrent use.
type Decoder struct {
	// MaxLineSize is the longest line accepted, in bytes without its line
	// ending; a longer one makes Next fail with [ErrLineTooLong].
	// 0 means [DefaultMaxLineSize].
	MaxLineSize int
	// MaxEventSize is the largest event accepted: the bytes of its Data and
	// Type once decoded. A larger one makes Next fail with
	// [ErrEventTooLarge]. 0 means [DefaultMaxEventSize].
	MaxEventSize int
	// OnComment, if set, is called with the text of each comment line: what
	// follows the colon, less one leading space, as EventSource-compatible
	// clients read it. Comments usually carry heartbeats.
	OnComment func(text string)

	r           io.Reader
	maxLine     int // the limits in force, fixed at the first Next
	maxEvent    int
	initialised bool
	err         error // sticky: the error Next returns from now on

	// Read buffer: buf[start:end] is unread, and buf[start:start+scanned]
	// holds no line ending (so a long line is never scanned twice).
	buf        []byte
	start, end int
	scanned    int
	readErr    error // from r; reported once the buffered lines are used
	bomChecked bool
	skipLF     bool // the last line ended with CR: a following LF belongs to it

	// The parser's state, named after the standard's.
	data       []byte        // data buffer: each data value followed by "\n"
	eventType  []byte        // event type buffer
	lastIDBuf  string        // last event ID buffer
	lastID     string        // last event ID string, set at each blank line
	retry      time.Duration // reconnection time
	blockRetry time.Duration // retry set since the last blank line

	typeCache string // the last Type returned, reused while it repeats
	scratch   []byte // decodes an id value
}

// NewDecoder returns a Decoder that reads the event stream from r. It reads
// in chunks: it may read past the last event it returns.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r}
}

// LastEventID returns the stream's last event ID: the `id` in force at the
// last blank line, as a client would send it in Last-Event-ID when it
// reconnects. An `id` line of an event that the stream never finished does
// not count.
func (d *Decoder) LastEventID() string { return d.lastID }

// SetLastEventID seeds the stream's last event ID, as browsers do when they
// reconnect: a client that resumes with a Last-Event-ID header passes the
// same ID here, so that events without an `id` line carry it and
// [Decoder.LastEventID] keeps it until the stream sets another. Call it
// before the first Next.
func (d *Decoder) SetLastEventID(id string) {
	d.lastIDBuf, d.lastID = id, id
}

// Retry returns the reconnection time that the stream last set with a valid
// `retry` field, or 0 if it never set one. Like a browser, the decoder takes
// the value as soon as the line is read, even in an event left unfinished.
// A value beyond the range of time.Duration saturates at its maximum.
func (d *Decoder) Retry() time.Duration { return d.retry }

// All returns an iterator over the remaining events. It stops at the end of
// the stream; any other error is yielded, with a zero Event, as the last
// element.
func (d *Decoder) All() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := d.Next()
			if err == io.EOF {
				return
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Next returns the next dispatched event. Blocks that dispatch nothing (no
// data) are consumed silently, updating [Decoder.LastEventID] and
// [Decoder.Retry]. At the end of the stream Next returns io.EOF, discarding
// an unfinished event. Errors are sticky: once Next fails, it keeps
// returning the same error.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	if !d.initialised {
		d.init()
	}
	for {
		line, err := d.readLine()
		if err != nil {
			d.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := d.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := d.processLine(line); err != nil {
			d.err = err
			return Event{}, err
		}
	}
}

func (d *Decoder) init() {
	d.initialised = true
	d.maxLine = d.MaxLineSize
	if d.maxLine <= 0 {
		d.maxLine = DefaultMaxLineSize
	}
	d.maxEvent = d.MaxEventSize
	if d.maxEvent <= 0 {
		d.maxEvent = DefaultMaxEventSize
	}
	d.buf = make([]byte, min(readSize, d.maxLine+1))
}

// readLine returns the next line without its line ending. The line aliases
// the read buffer: it is valid until the next call. A line that the stream
// does not end is never returned; the read error (io.EOF at the end) is.
func (d *Decoder) readLine() ([]byte, error) {
	for {
		if d.skipLF && d.start < d.end {
			if d.buf[d.start] == '\n' {
				d.start++
			}
			d.skipLF = false
		}
		if !d.bomChecked {
			p := d.buf[d.start:d.end]
			// Wait for three bytes unless what came so far already differs.
			if len(p) >= len(bom) || d.readErr != nil || !bytes.HasPrefix(bom, p) {
				if bytes.HasPrefix(p, bom) {
					d.start += len(bom)
				}
				d.bomChecked = true
			}
		}
		if d.bomChecked && !d.skipLF {
			if line, ok, err := d.cutBufferedLine(); ok || err != nil {
				return line, err
			}
		}
		if d.readErr != nil {
			return nil, d.readErr
		}
		d.fill()
	}
}

// cutBufferedLine takes the next line out of the buffer, if a whole line is
// there.
func (d *Decoder) cutBufferedLine() (line []byte, ok bool, err error) {
	unread := d.buf[d.start+d.scanned : d.end]
	n := bytes.IndexByte(unread, '\n')
	if n < 0 {
		n = len(unread)
	}
	if cr := bytes.IndexByte(unread[:n], '\r'); cr >= 0 {
		n = cr
		d.skipLF = true // also across reads: the LF may not have come yet
	} else if n == len(unread) {
		d.scanned = d.end - d.start
		if d.scanned > d.maxLine {
			return nil, false, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
		}
		return nil, false, nil
	}
	n += d.scanned
	line = d.buf[d.start : d.start+n]
	d.start += n + 1
	d.scanned = 0
	if len(line) > d.maxLine {
		return nil, false, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
	}
	return line, true, nil
}

// fill reads once more into the buffer, first making room by moving the
// unread bytes to the front, or by growing the buffer when a line fills it.
func (d *Decoder) fill() {
	if d.start > 0 {
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	if d.end == len(d.buf) {
		// cutBufferedLine has checked that the partial line is at most
		// maxLine bytes, so this stays within maxLine+1.
		grown := make([]byte, min(2*len(d.buf), d.maxLine+1))
		copy(grown, d.buf[:d.end])
		d.buf = grown
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			d.readErr = fmt.Errorf("sse: reader returned invalid count %d", n)
			return
		}
		d.end += n
		if err != nil {
			d.readErr = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.readErr = io.ErrNoProgress
}

// processLine interprets one non-empty line.
func (d *Decoder) processLine(line []byte) error {
	if line[0] == ':' {
		if d.OnComment != nil {
			text := line[1:]
			if len(text) > 0 && text[0] == ' ' {
				text = text[1:]
			}
			d.OnComment(decodeString(text))
		}
		return nil
	}
	name, value, found := bytes.Cut(line, []byte(":"))
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	// Names are compared as bytes: ill-formed UTF-8 would decode to U+FFFD,
	// which no field name contains, so decoding first changes nothing.
	switch string(name) {
	case "event":
		d.eventType = appendUTF8(d.eventType[:0], value)
	case "data":
		d.data = appendUTF8(d.data, value)
		d.data = append(d.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.setLastIDBuf(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			d.retry = ms
			d.blockRetry = ms
		}
	default:
		return nil // unknown fields are ignored
	}
	// The data buffer holds one "\n" per line, and the last is not data.
	if size := len(d.data) - 1 + len(d.eventType); size > d.maxEvent {
		return fmt.Errorf("%w (over %d bytes)", ErrEventTooLarge, d.maxEvent)
	}
	return nil
}

// setLastIDBuf sets the last event ID buffer, without allocating when the
// stream repeats the ID it had.
func (d *Decoder) setLastIDBuf(value []byte) {
	if utf8.Valid(value) {
		if string(value) != d.lastIDBuf {
			d.lastIDBuf = string(value)
		}
		return
	}
	d.scratch = appendUTF8(d.scratch[:0], value)
	d.lastIDBuf = string(d.scratch)
}

// dispatch ends the current block, as a blank line does. ok is false when
// the block has no data, which dispatches nothing.
func (d *Decoder) dispatch() (ev Event, ok bool) {
	d.lastID = d.lastIDBuf
	retry := d.blockRetry
	d.blockRetry = 0
	if len(d.data) == 0 {
		d.eventType = d.eventType[:0]
		return Event{}, false
	}
	if string(d.eventType) != d.typeCache {
		d.typeCache = string(d.eventType)
	}
	ev = Event{ID: d.lastID, Type: d.typeCache, Retry: retry}
	n := len(d.data) - 1 // without the trailing "\n"
	if cap(d.data) > keepData {
		ev.Data = d.data[:n:n]
		d.data = nil
	} else {
		ev.Data = make([]byte, n)
		copy(ev.Data, d.data)
		d.data = d.data[:0]
	}
	d.eventType = d.eventType[:0]
	return ev, true
}

// parseRetry parses a retry value: milliseconds as ASCII digits only,
// saturating at the largest time.Duration.
func parseRetry(value []byte) (time.Duration, bool) {
	if len(value) == 0 {
		return 0, false
	}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range value {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms <= maxMs { // once past it, only the digits matter
			ms = ms*10 + int64(c-'0')
		}
	}
	if ms > maxMs {
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// decodeString returns b decoded as UTF-8 with replacement.
func decodeString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendUTF8(nil, b))
}

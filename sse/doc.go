// Package sse implements the server-sent events wire format exactly as the
// WHATWG HTML standard defines it
// (https://html.spec.whatwg.org/multipage/server-sent-events.html): the
// frames a server writes and the parser a client runs.
//
// # Encoding
//
// [Event.AppendTo] encodes one event as a frame:
//
//	id: 42
//	event: update
//	retry: 3000
//	data: first line
//	data: second line
//
// Every CR, LF and CRLF in the data starts a new `data:` line, so data can
// never inject fields. An ID or type containing a CR, LF or NUL is refused
// with [ErrInvalidField] rather than rewritten. [AppendComment] encodes a
// comment (the usual heartbeat) and [AppendRetry] a frame that only sets the
// client's reconnection time. Encoding appends to a caller's buffer and does
// not allocate, so a server can encode an event once and write the same
// bytes to every subscriber.
//
// # Decoding
//
// [Decoder] parses a stream as the standard's algorithm does, including the
// corner cases that hand-written parsers get wrong: a CRLF split between two
// reads, a byte order mark, ill-formed UTF-8 (replaced with U+FFFD the way
// browsers replace it), `id` fields that contain NUL, `retry` values that
// are not all digits, blocks without data that still update the last event
// ID, and an unfinished event at the end of the stream (discarded). Its
// memory is bounded by [Decoder.MaxLineSize] and [Decoder.MaxEventSize].
//
// # Serving
//
// [Writer] writes events to an http.ResponseWriter with the right headers,
// flushing each one, with an optional per-write timeout through
// http.ResponseController.
package sse

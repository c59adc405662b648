package websocket

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/transport/wire"
)

// Frames on the wire. RFC 6455 framing is gobwas/ws's; this file only
// chooses which frames to make.
//
// An event is one text message in two frames: a first frame (not final)
// naming the subscription, made once per subscription, and a
// continuation frame with the event, made once per event and shared by
// every socket (server frames are not masked, so the bytes are the same
// for all). A client's WebSocket reassembles the message as usual.

// Format is an event's continuation frame: the JSON object of the event
// without its opening brace.
var Format = hub.NewFormat(eventFrame)

func eventFrame(ev *journal.Event) []byte {
	obj := wire.MarshalEvent(ev)
	return compile(ws.OpContinuation, true, obj[1:])
}

// subscriptionPrefix is the first frame of every event of subscription
// name: `{"op":"event","sub":"<name>",`.
func subscriptionPrefix(name string) []byte {
	quoted, _ := json.Marshal(name) // a string marshals
	b := append([]byte(`{"op":"event","sub":`), quoted...)
	return compile(ws.OpText, false, append(b, ','))
}

// compile makes one frame.
func compile(op ws.OpCode, fin bool, payload []byte) []byte {
	f := ws.NewFrame(op, fin, payload)
	var buf bytes.Buffer
	buf.Grow(ws.HeaderSize(f.Header) + len(payload))
	// Writing to a bytes.Buffer does not fail.
	_ = ws.WriteFrame(&buf, f)
	return buf.Bytes()
}

// textFrame is a whole message in one frame.
func textFrame(payload []byte) []byte { return compile(ws.OpText, true, payload) }

var (
	pingFrame = compile(ws.OpPing, true, nil)
	pongReply = textFrame([]byte(`{"op":"pong"}`))
)

// closeFrame tells the client why the socket closes. The reason is cut to
// what a control frame holds, at a character boundary.
func closeFrame(code ws.StatusCode, reason string) []byte {
	const maxReason = 123 // a control frame's payload is at most 125 bytes
	for len(reason) > maxReason {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	return compile(ws.OpClose, true, ws.NewCloseFrameBody(code, reason))
}

// header reads a frame's header from the start of b: ok is false while b
// is too short to hold it.
func header(b []byte) (h ws.Header, size int, ok bool, err error) {
	r := bytes.NewReader(b)
	h, err = ws.ReadHeader(r)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return h, 0, false, nil
	case err != nil:
		return h, 0, false, err
	}
	return h, len(b) - r.Len(), true, nil
}

// Close codes: RFC 6455's, and Herald's own in the private range, named
// after the HTTP status of the same meaning (docs/protocol.md).
const (
	CodeNormal          = ws.StatusNormalClosure
	CodeGoingAway       = ws.StatusGoingAway
	CodeProtocolError   = ws.StatusProtocolError
	CodeUnsupportedData = ws.StatusUnsupportedData
	CodeInvalidPayload  = ws.StatusInvalidFramePayloadData
	CodeTooBig          = ws.StatusMessageTooBig
	CodeInternalError   = ws.StatusInternalServerError
	CodeUnauthorized    = ws.StatusCode(4401)
	CodeForbidden       = ws.StatusCode(4403)
	CodeSlowConsumer    = ws.StatusCode(4408)
)

// CloseError ends a socket with a close code and reason.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string { return e.Reason }

// Error is a request refused, with the HTTP status the same request gets
// over HTTP: the socket answers it and goes on.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// errorf makes an Error.
func errorf(code int, msg string) *Error { return &Error{Code: code, Msg: msg} }

var errMalformed = errorf(http.StatusBadRequest, "malformed message: want a JSON object with an op")

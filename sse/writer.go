package sse

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Writer writes an event stream to an HTTP response, flushing after every
// write so that each event reaches the client at once. It is for handlers
// written on net/http; it holds no buffer between writes, so an idle stream
// costs only the Writer itself.
//
// A Writer is not safe for concurrent use, just as the ResponseWriter it
// wraps is not.
type Writer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// NewWriter returns a Writer on w and sets the response headers of an event
// stream: Content-Type "text/event-stream" (the charset is always UTF-8 and
// clients need no parameter), Cache-Control "no-cache", and
// X-Accel-Buffering "no", which stops nginx from buffering the response.
// The headers are sent with the first write or flush; a handler may still
// change them until then, and should call [Writer.Flush] at once if the
// client is to see the response open before the first event.
func NewWriter(w http.ResponseWriter) *Writer {
	SetHeaders(w.Header())
	return &Writer{w: w, rc: http.NewResponseController(w)}
}

// SetHeaders sets the response headers of an event stream on h, as
// [NewWriter] does: for handlers that write the stream some other way
// (a hijacked connection, or a HEAD answer).
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// SetWriteTimeout bounds every later write and flush: each one must finish
// within d, or it fails and the connection is unusable. 0 removes the bound.
// This is how a streaming handler stops a stalled client from holding it
// forever without setting http.Server.WriteTimeout, which would cut every
// stream at a fixed age.
//
// The deadline is set just before each write and cleared after it, so an
// idle stream never expires (over HTTP/2 an expired deadline resets the
// stream even when nothing is being written). If the ResponseWriter cannot
// set deadlines, writes fail with an error wrapping http.ErrNotSupported.
func (w *Writer) SetWriteTimeout(d time.Duration) { w.timeout = max(d, 0) }

// Event writes the frame of e and flushes it. An invalid event writes
// nothing and returns an error wrapping [ErrInvalidField].
func (w *Writer) Event(e Event) error {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	if *buf, err = e.AppendTo((*buf)[:0]); err != nil {
		return err
	}
	return w.Write(*buf)
}

// Comment writes text as comment lines (see [AppendComment]) and flushes
// them: the heartbeat of an idle stream.
func (w *Writer) Comment(text string) error {
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = AppendComment((*buf)[:0], text)
	return w.Write(*buf)
}

// Write writes frames, bytes already encoded with [Event.AppendTo],
// [AppendComment] or [AppendRetry], and flushes them. It lets a server
// encode an event once and write it to many streams. Write does not check
// frames.
func (w *Writer) Write(frames []byte) error {
	return w.WriteFrames(frames)
}

// WriteFrames writes several encoded frames, in order, under one deadline
// and with one flush: a server's queue of shared frames, written without
// copying them into one buffer. It does not check the frames.
func (w *Writer) WriteFrames(frames ...[]byte) error {
	return w.do(func() error {
		for _, f := range frames {
			if _, err := w.w.Write(f); err != nil {
				return err
			}
		}
		return w.rc.Flush()
	})
}

// Flush sends what is buffered, including the headers if nothing was
// written yet.
func (w *Writer) Flush() error {
	return w.do(w.rc.Flush)
}

// do runs op under the write timeout.
func (w *Writer) do(op func() error) error {
	if w.timeout == 0 {
		return op()
	}
	if err := w.rc.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return fmt.Errorf("sse: set write deadline: %w", err)
	}
	if err := op(); err != nil {
		return err
	}
	if err := w.rc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("sse: clear write deadline: %w", err)
	}
	return nil
}

// maxPooled keeps an occasional huge event from pinning its buffer.
const maxPooled = 64 << 10

// buffers holds encoding buffers between writes, so that idle streams hold
// none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooled {
		buffers.Put(b)
	}
}

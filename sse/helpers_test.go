package sse_test

import (
	"bytes"
	"io"
	"testing/iotest"
	"time"

	"github.com/heraldhub/herald/sse"
)

// chunkReader returns at most n bytes per Read, so that line endings, byte
// order marks and UTF-8 sequences fall across reads.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// readers lists the ways every decoder test feeds its input.
var readers = []struct {
	name string
	new  func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"bytewise", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"chunks2", func(b []byte) io.Reader { return chunkReader{bytes.NewReader(b), 2} }},
	{"chunks3", func(b []byte) io.Reader { return chunkReader{bytes.NewReader(b), 3} }},
}

// event is sse.Event in a comparable form.
type event struct {
	ID, Type, Data string
	Retry          time.Duration
}

func toEvent(e sse.Event) event { return event{e.ID, e.Type, string(e.Data), e.Retry} }

// decoded is everything observable about decoding one stream.
type decoded struct {
	Events   []event
	Comments []string
	LastID   string
	Retry    time.Duration
	Err      error // the error that ended decoding; nil for io.EOF
}

// decodeAll runs d to its end.
func decodeAll(d *sse.Decoder) decoded {
	var out decoded
	d.OnComment = func(text string) { out.Comments = append(out.Comments, text) }
	for ev, err := range d.All() {
		if err != nil {
			out.Err = err
			break
		}
		out.Events = append(out.Events, toEvent(ev))
	}
	out.LastID, out.Retry = d.LastEventID(), d.Retry()
	return out
}

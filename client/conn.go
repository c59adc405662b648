package client

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/heraldhub/herald/sse"
)

// conn is one open connection of a stream.
type conn struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	body   io.ReadCloser
	dec    *sse.Decoder
	// timer fires after timeout without a byte; nil without a read timeout.
	timer   *time.Timer
	timeout time.Duration
	opened  time.Time
	read    int64 // bytes received
}

// Read reads from the response body, restarting the read timeout whenever
// bytes arrive.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	if n > 0 {
		c.read += int64(n)
		if c.timer != nil {
			c.timer.Reset(c.timeout)
		}
	}
	return n, err
}

// release ends the connection and frees its resources. It may be called
// more than once.
func (c *conn) release() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(errReleased)
	c.body.Close()
}

// newDecoder returns a decoder for the connection that starts with lastID
// as its last event ID, as a browser's reconnected EventSource does.
//
// sse.Decoder has no setter for it, so the decoder first reads a block
// that sets it and dispatches nothing: "id: <lastID>", blank line. A byte
// order mark is skipped only at the start of what a decoder reads, so the
// one that may start the body is skipped here instead.
func (c *conn) newDecoder(lastID string) *sse.Decoder {
	if lastID == "" {
		return sse.NewDecoder(c)
	}
	return sse.NewDecoder(io.MultiReader(strings.NewReader("id: "+lastID+"\n\n"), &bomSkipper{r: c}))
}

var bom = []byte("\xEF\xBB\xBF")

// bomSkipper reads r without the byte order mark that may start it.
type bomSkipper struct {
	r       io.Reader
	head    [3]byte // the first bytes, held until they are known not to be a BOM
	n       int
	decided bool
	err     error
}

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.decided {
		// One read per call, so that the caller's guard against a reader
		// that makes no progress still applies.
		n, err := b.r.Read(b.head[b.n:])
		b.n += n
		if b.n < len(bom) && err == nil && bytes.HasPrefix(bom, b.head[:b.n]) {
			return 0, nil
		}
		b.decided = true
		b.err = err
		if bytes.Equal(b.head[:b.n], bom) {
			b.n = 0
		}
	}
	if b.n > 0 {
		n := copy(p, b.head[:b.n])
		copy(b.head[:], b.head[n:b.n])
		b.n -= n
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

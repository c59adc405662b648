package client

import (
	"context"
	"io"
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

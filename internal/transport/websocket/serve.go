package websocket

import (
	"bufio"

	"net"
	"time"

	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/push"
)

// Serve runs the socket from two goroutines, where the push pool cannot
// take it (TLS): one reads the client, the calling one writes, until the
// socket ends. rd holds what was read with the upgrade request. It calls
// Closed, then closes nc.
func (c *Conn) Serve(nc net.Conn, rd *bufio.Reader, heartbeat, writeTimeout time.Duration, clk clock.Clock) {
	go c.read(nc, rd)
	reason := push.Stream(c.ctx, &netWriter{conn: nc, timeout: writeTimeout}, c, push.StreamConfig{Heartbeat: heartbeat, Clock: clk})
	_ = nc.Close()
	c.Closed(reason)
}

// read hands the client's bytes to Receive until it fails or the
// connection ends.
func (c *Conn) read(nc net.Conn, rd *bufio.Reader) {
	buf := make([]byte, 16<<10)
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			if rerr := c.Receive(buf[:n]); rerr != nil {
				return // Receive ended the socket
			}
		}
		if err != nil {
			c.end(push.ErrClientGone)
			return
		}
	}
}

// netWriter writes frames to a connection under one deadline.
type netWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *netWriter) WriteFrames(frames ...[]byte) error {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return err
	}
	bufs := net.Buffers(frames)
	_, err := bufs.WriteTo(w.conn)
	return err
}

var _ push.Source = (*Conn)(nil)
var _ push.Receiver = (*Conn)(nil)

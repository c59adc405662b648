package websocket

import (
	"bufio"
	"errors"
	"net"
	"time"

	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/push"
)

// Serve runs the socket from two goroutines, where the push pool cannot
// take it (TLS): one reads the client, the calling one writes, until the
// socket ends. rd holds what was read with the upgrade request. It calls
// Closed, and closes nc as push.LingerClose does: once the client has
// stopped sending, or after a bounded time.
func (c *Conn) Serve(nc net.Conn, rd *bufio.Reader, heartbeat, writeTimeout time.Duration, clk clock.Clock) {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.read(rd)
	}()
	reason := push.Stream(c.ctx, &netWriter{conn: nc, timeout: writeTimeout}, c, push.StreamConfig{Heartbeat: heartbeat, Clock: clk})
	c.Closed(reason)
	hc, halfCloses := nc.(interface{ CloseWrite() error })
	if !halfCloses || errors.Is(reason, push.ErrClientGone) {
		_ = nc.Close()
		return
	}
	_ = hc.CloseWrite()
	_ = nc.SetReadDeadline(time.Now().Add(push.LingerTimeout))
	go func() {
		<-readerDone // it discards what the client still sends
		_ = nc.Close()
	}()
}

// read hands the client's bytes to Receive until the connection ends;
// once the socket has ended, it reads on and discards them.
func (c *Conn) read(rd *bufio.Reader) {
	buf := make([]byte, 16<<10)
	ended := false
	for {
		n, err := rd.Read(buf)
		if n > 0 && !ended {
			ended = c.Receive(buf[:n]) != nil
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
var _ push.Meter = (*Conn)(nil)

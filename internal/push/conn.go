package push

import (
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// state is where a connection stands in the write pipeline.
type state uint8

const (
	idle    state = iota // nothing queued, nobody writing
	queued               // on the run queue
	writing              // a worker or a blocking writer owns it
	closed
)

// Conn is one connection of a [Pool].
type Conn struct {
	pool *Pool
	tcp  *net.TCPConn
	raw  syscall.RawConn
	src  Source
	fd   int    // the socket's descriptor, once watched for hang-ups
	gen  uint32 // tells this connection from a later one with the same fd

	mu    sync.Mutex
	state state
	// again is set when the connection was woken while a writer held it:
	// the writer looks once more before going idle.
	again bool
	// heartbeat asks the next writer for a keep-alive frame.
	heartbeat bool
	// ending is set by the pool's Close while a writer holds the
	// connection: that writer closes it after the current write.
	ending error
	shard  *shard

	lastWrite atomic.Int64 // unix nanoseconds of the last write's start, on the pool's clock
	closeOnce sync.Once
}

// Wake puts the connection on the run queue, unless it is already there
// or being written (the writer then looks again). It is the source's wake
// callback: it never blocks.
func (c *Conn) Wake() {
	c.mu.Lock()
	switch c.state {
	case idle:
		c.state = queued
		c.mu.Unlock()
		c.pool.runq.push(c)
		return
	case writing:
		c.again = true
	}
	c.mu.Unlock()
}

// writer holds a writer's scratch space, reused across connections so that
// no connection keeps a buffer while idle.
type writer struct {
	bufs [][]byte
}

// run writes everything due on c. A worker (blocking false) hands the
// connection to a goroutine of its own when the socket is full; that
// goroutine (blocking true) writes with the write timeout until nothing
// is due.
func (w *writer) run(c *Conn, blocking bool) {
	c.mu.Lock()
	if c.state == closed {
		c.mu.Unlock()
		return
	}
	c.state = writing
	c.mu.Unlock()
	defer w.release()

	for {
		if reason := c.src.Err(); reason != nil {
			c.finish(reason, blocking)
			return
		}
		c.mu.Lock()
		if reason := c.ending; reason != nil {
			c.mu.Unlock()
			c.close(reason)
			return
		}
		heartbeat := c.heartbeat
		c.heartbeat, c.again = false, false
		c.mu.Unlock()

		w.bufs = c.src.Frames(w.bufs[:0])
		if len(w.bufs) == 0 && heartbeat {
			w.bufs = append(w.bufs, c.src.Heartbeat())
		}
		if len(w.bufs) == 0 {
			c.mu.Lock()
			if c.again || c.ending != nil {
				c.mu.Unlock()
				continue
			}
			c.state = idle
			c.mu.Unlock()
			return
		}

		if blocking {
			if err := c.writeBlocking(w.bufs); err != nil {
				c.close(err)
				return
			}
			clear(w.bufs)
			continue
		}
		rest, err := c.writeNow(w.bufs)
		if err != nil {
			c.close(err)
			return
		}
		if len(rest) > 0 {
			// The socket is full: finish on a goroutine that may block,
			// so that this worker goes on with other connections.
			pending := slices.Clone(rest)
			go func() {
				if err := c.writeBlocking(pending); err != nil {
					c.close(err)
					return
				}
				var bw writer
				bw.run(c, true)
			}()
			return
		}
		clear(w.bufs)
	}
}

// release drops scratch space that a burst made large.
func (w *writer) release() {
	clear(w.bufs)
	if cap(w.bufs) > 1024 {
		w.bufs = nil
	}
}

// finish writes the source's last frame, if any, as far as the socket
// takes it (a worker never waits), and closes the connection.
func (c *Conn) finish(reason error, blocking bool) {
	if last := c.src.Goodbye(reason); last != nil {
		if blocking {
			_ = c.writeBlocking([][]byte{last})
		} else {
			_, _ = c.writeNow([][]byte{last})
		}
	}
	c.close(reason)
}

// writeNow writes as much of bufs as the socket takes without waiting and
// returns what is left.
func (c *Conn) writeNow(bufs [][]byte) ([][]byte, error) {
	for len(bufs) > 0 {
		c.wrote()
		chunk := bufs[:min(len(bufs), maxIOV)]
		n, err := writevNow(c.raw, chunk)
		bufs = consume(bufs, n)
		if errors.Is(err, syscall.EAGAIN) {
			return bufs, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// writeBlocking writes bufs within the write timeout. The deadline is
// cleared afterwards: left in place, it would fail the workers' later
// non-blocking writes once it passed. The deadline is the socket's, on
// the system clock.
func (c *Conn) writeBlocking(bufs [][]byte) error {
	if err := c.tcp.SetWriteDeadline(time.Now().Add(c.pool.cfg.WriteTimeout)); err != nil {
		return err
	}
	c.wrote()
	nb := net.Buffers(bufs)
	if _, err := nb.WriteTo(c.tcp); err != nil {
		return err
	}
	return c.tcp.SetWriteDeadline(time.Time{})
}

// wrote records that a write starts now. A stream being written is not
// quiet, whether or not the bytes have left yet; and recorded before the
// bytes can reach the client, the time is never older than what it saw.
func (c *Conn) wrote() { c.lastWrite.Store(c.pool.clock.Now().UnixNano()) }

// consume drops the first n bytes of bufs.
func consume(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}

// shutdown closes the connection for the pool's Close: at once when no
// writer holds it, else by that writer after its current write.
func (c *Conn) shutdown(reason error) {
	c.mu.Lock()
	if c.state == writing {
		c.ending = reason
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.close(reason)
}

// close ends the connection once and reports reason to the source.
func (c *Conn) close(reason error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.state = closed
		sh := c.shard
		c.mu.Unlock()
		if sh != nil {
			sh.mu.Lock()
			delete(sh.conns, c)
			sh.mu.Unlock()
		}
		c.pool.hangups.forget(c)
		_ = c.tcp.Close()
		c.src.Closed(reason)
	})
}

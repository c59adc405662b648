package push

import (
	"cmp"
	"errors"
	"io"
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
	closing              // the pool's Close is writing its last frame
	closed
)

// Conn is one connection of a [Pool].
type Conn struct {
	pool *Pool
	src  Source
	// fd is the socket, the connection's own from Add on: not Go's, so
	// that an idle connection holds none of net's structures nor a place
	// in Go's poller (together about 1.5 KiB of RSS per subscriber).
	// It never changes; users says when it may be closed.
	fd  int32
	gen uint32 // tells this connection from a later one with the same fd

	mu    sync.Mutex
	state state
	// done is set by the first close: the others do nothing, and the
	// socket is not used anew.
	done bool
	// users counts the holds on fd (see hold): the connection's own until
	// its close, and each system call in progress. The last to let go
	// closes the socket, so that no call ever meets a number the system
	// gave to another socket.
	users int32
	// slot is the connection's place in its shard's list, guarded by the
	// shard's lock.
	slot int32
	// again is set when the connection was woken while a writer held it:
	// the writer looks once more before going idle.
	again bool
	// heartbeat asks the next writer for a keep-alive frame.
	heartbeat bool
	// ending is set by the pool's Close while a writer holds the
	// connection: that writer closes it after the current write.
	ending error
	// failed is why reading the client stopped (see Receiver), for the
	// writer to end the stream with.
	failed error
	shard  *shard
	// blocking is the socket as a net.Conn of its own (a duplicate), while
	// a slow client's writes wait for room with the write timeout; close
	// closes it, which ends a wait at once.
	blocking *net.TCPConn

	lastWrite atomic.Int64 // unix nanoseconds of the last write's start, on the pool's clock
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
	if c.state == closed || c.state == closing {
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
		if reason := cmp.Or(c.ending, c.failed); reason != nil {
			c.mu.Unlock()
			c.finish(reason, blocking)
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
			// A slow client caught up: its blocking writer's duplicate
			// of the socket goes.
			var dup *net.TCPConn
			if blocking {
				dup, c.blocking = c.blocking, nil
			}
			c.mu.Unlock()
			if dup != nil {
				dup.Close()
			}
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
		n, err := c.writev(chunk)
		c.sent(n)
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

// writev makes one non-blocking writev of bufs.
func (c *Conn) writev(bufs [][]byte) (int, error) {
	if !c.hold() {
		return 0, net.ErrClosed
	}
	defer c.let()
	return writevNow(int(c.fd), bufs)
}

// writeBlocking writes bufs within the write timeout, through a
// duplicate of the socket that Go's poller waits on (made at the first
// call, closed when the client caught up or the connection closes). The
// deadline is the socket's, on the system clock.
func (c *Conn) writeBlocking(bufs [][]byte) error {
	conn, err := c.blockingConn()
	if err != nil {
		return err
	}
	if err := conn.SetWriteDeadline(time.Now().Add(c.pool.cfg.WriteTimeout)); err != nil {
		return err
	}
	c.wrote()
	nb := net.Buffers(bufs)
	n, err := nb.WriteTo(conn)
	c.sent(int(n))
	return err
}

// blockingConn returns the duplicate of the socket that blocking writes
// use, making it first if need be.
func (c *Conn) blockingConn() (*net.TCPConn, error) {
	c.mu.Lock()
	conn := c.blocking
	c.mu.Unlock()
	if conn != nil {
		return conn, nil
	}
	if !c.hold() {
		return nil, net.ErrClosed
	}
	conn, err := netConn(int(c.fd))
	c.let()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		// close came first and could not close it: it was not there yet.
		conn.Close()
		return nil, net.ErrClosed
	}
	c.blocking = conn
	return conn, nil
}

// hold keeps the socket open until the matching let; it fails once the
// connection is closed.
func (c *Conn) hold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return false
	}
	c.users++
	return true
}

// closed reports whether close was called.
func (c *Conn) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// let gives back a hold; the last closes the socket.
func (c *Conn) let() {
	c.mu.Lock()
	c.users--
	last := c.users == 0
	c.mu.Unlock()
	if last {
		closeFD(int(c.fd))
	}
}

// sent tells the source, if it counts what is written (a [Meter]), that
// n bytes were.
func (c *Conn) sent(n int) {
	if m, ok := c.src.(Meter); ok && n > 0 {
		m.Sent(n)
	}
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

// shutdown closes the connection for the pool's Close, after the
// source's last frame: at once when no writer holds it, else by that
// writer after its current write.
func (c *Conn) shutdown(reason error) {
	c.mu.Lock()
	switch c.state {
	case writing:
		c.ending = reason
		c.mu.Unlock()
		return
	case closed, closing:
		c.mu.Unlock()
		return
	}
	// Owned from now on: a worker that takes it off the run queue leaves it.
	c.state = closing
	c.mu.Unlock()
	c.finish(reason, false)
}

// fail ends the stream because reading the client failed, or the source
// refused what it read: the writer closes it with the source's last
// frame.
func (c *Conn) fail(reason error) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = reason
	}
	c.mu.Unlock()
	c.Wake()
}

// readBuffers are the receiving goroutines' buffers: a connection holds
// one only while its client's bytes are being read.
var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// receive reads what the client of a Receiver sent, until the socket has
// nothing more, and hands it to the source; then it asks the watcher to
// tell again when there is more.
func (c *Conn) receive() {
	r := c.src.(Receiver)
	buf := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(buf)
	for {
		n, err := c.read(*buf)
		if n > 0 {
			if err := r.Receive((*buf)[:n]); err != nil {
				c.fail(err)
				return
			}
			continue
		}
		switch {
		case errors.Is(err, syscall.EAGAIN):
			if err := c.pool.hangups.rearm(c); err != nil {
				c.close(err)
			}
			return
		case err == nil: // end of stream
			c.close(ErrClientGone)
		default:
			c.close(err)
		}
		return
	}
}

// read makes one non-blocking read into buf.
func (c *Conn) read(buf []byte) (int, error) {
	if !c.hold() {
		return 0, net.ErrClosed
	}
	defer c.let()
	return readNow(int(c.fd), buf)
}

// close ends the connection once and reports reason to the source.
func (c *Conn) close(reason error) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done, c.state = true, closed
	sh, blocking := c.shard, c.blocking
	c.mu.Unlock()
	if sh != nil {
		sh.remove(c)
	}
	if blocking != nil {
		blocking.Close()
	}
	// The watcher knows the socket by its number: it forgets it before
	// the number can be given to another.
	c.pool.hangups.forget(c)
	if _, talks := c.src.(Receiver); talks && !errors.Is(reason, ErrClientGone) {
		if conn, err := netConn(int(c.fd)); err == nil {
			go LingerClose(conn)
		}
	}
	c.let()
	c.src.Closed(reason)
}

// Bounds of LingerClose: how long it reads what a client still sends, and
// how much.
const (
	LingerTimeout = 2 * time.Second
	lingerBytes   = 8 << 20
)

// LingerClose closes a connection whose client may still be sending (a
// WebSocket closed for a message too big, or while a client pipelines):
// closed with bytes unread, the socket would answer with a reset, and the
// client's system may then drop the last frame it was sent (a close
// frame, the reason of the end). So it shuts down writing, reads and
// discards what the client still sends, for a bounded time and size,
// then closes.
func LingerClose(conn interface {
	net.Conn
	CloseWrite() error
}) {
	_ = conn.CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(LingerTimeout))
	_, _ = io.CopyN(io.Discard, conn, lingerBytes)
	_ = conn.Close()
}

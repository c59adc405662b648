package server

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldhub/herald/internal/hub"
)

// Push streams: an idle SSE subscriber should cost a few KiB, not the
// ~26 KiB of net/http's goroutine, buffers and background reader per
// stream. So, for plain HTTP/1.1 on Linux, the subscribe handler hijacks
// the connection, writes the response head and the replay itself, and
// returns: from then on the connection is a pushConn with no goroutine and
// no buffer. When the hub queues frames, the subscription's OnReady puts
// the connection on a run queue; a few workers (half the CPUs) drain it with
// one non-blocking writev of the shared frames. A write that cannot finish
// at once (the client reads slowly) is finished by a goroutine of its own
// with the write timeout, which returns to the pool when the queue is
// empty. Heartbeats come from one ticker for all connections, and an epoll
// set watching for peer hang-ups closes connections whose client left,
// without a reader goroutine per connection. HTTP/2, TLS and other systems
// keep the goroutine-per-stream path of stream().

// pushState is where a pushConn stands in the write pipeline.
type pushState uint8

const (
	pushIdle    pushState = iota // nothing queued, nobody writing
	pushQueued                   // on the run queue
	pushWriting                  // a worker or the slow-path goroutine owns it
	pushClosed
)

// pushConn is one hijacked subscriber connection.
type pushConn struct {
	srv  *Server
	conn *net.TCPConn
	raw  syscall.RawConn
	fd   int    // the socket's descriptor, once watched for hang-ups
	gen  uint32 // tells this connection from a later one with the same fd
	sub  *hub.Subscription

	mu    sync.Mutex
	state pushState
	// again is set when the queue was signalled while a writer held the
	// connection: the writer looks once more before going idle.
	again bool
	// heartbeat asks the next writer to send a keep-alive comment.
	heartbeat bool

	lastWrite atomic.Int64 // unix nanoseconds of the last successful write
	timers    []*time.Timer
	onClose   func()
	closeOnce sync.Once
	shard     *pushShard
}

// pushShard is one part of the registry of push connections (for
// heartbeats and draining), sharded so that connects and closes from many
// goroutines do not contend on one lock.
type pushShard struct {
	mu    sync.Mutex
	conns map[*pushConn]struct{}
}

const pushShards = 64

// pushPool owns every push connection of a server.
type pushPool struct {
	srv     *Server
	shards  [pushShards]pushShard
	next    atomic.Uint32
	runq    runQueue
	hangups *hangupWatcher
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newPushPool(s *Server, workers int) (*pushPool, error) {
	p := &pushPool{srv: s, stop: make(chan struct{})}
	for i := range p.shards {
		p.shards[i].conns = make(map[*pushConn]struct{})
	}
	p.runq.wake = make(chan struct{}, 1)
	hw, err := newHangupWatcher(p.hangup)
	if err != nil {
		return nil, err
	}
	p.hangups = hw
	for range workers {
		p.wg.Add(1)
		go p.worker()
	}
	if s.cfg.Heartbeat > 0 {
		p.wg.Add(1)
		go p.heartbeats(s.cfg.Heartbeat)
	}
	return p, nil
}

// close ends every push connection and stops the workers.
func (p *pushPool) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.closeAll()
	p.runq.mu.Lock()
	p.runq.closed = true
	p.runq.mu.Unlock()
	p.runq.signal()
	p.hangups.close()
	p.wg.Wait()
}

func (p *pushPool) closeAll() {
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		conns := make([]*pushConn, 0, len(sh.conns))
		for c := range sh.conns {
			conns = append(conns, c)
		}
		sh.mu.Unlock()
		for _, c := range conns {
			c.close(errDraining)
		}
	}
}

// add registers a hijacked connection whose response head and replay are
// written. It refuses once the pool is closing: the stop check and the
// insertion happen under the shard lock that closeAll also takes after
// closing stop, so a connection is either refused here or closed there.
// Until add returns, nothing else can reach the connection; the caller
// arms it (OnReady, timers) and schedules it afterwards.
func (p *pushPool) add(c *pushConn) error {
	sh := &p.shards[p.next.Add(1)%pushShards]
	sh.mu.Lock()
	select {
	case <-p.stop:
		sh.mu.Unlock()
		c.close(errDraining)
		return errDraining
	default:
	}
	c.mu.Lock()
	if c.state == pushClosed {
		c.mu.Unlock()
		sh.mu.Unlock()
		return errClientGone
	}
	c.shard = sh
	c.mu.Unlock()
	sh.conns[c] = struct{}{}
	sh.mu.Unlock()
	if err := p.hangups.watch(c); err != nil {
		c.close(err)
		return err
	}
	return nil
}

// hangup is called by the watcher when a client went away.
func (p *pushPool) hangup(c *pushConn) { c.close(errClientGone) }

// schedule is the subscription's OnReady: it must not block.
func (c *pushConn) schedule() {
	c.mu.Lock()
	switch c.state {
	case pushIdle:
		c.state = pushQueued
		c.mu.Unlock()
		c.srv.push.runq.push(c)
		return
	case pushWriting:
		c.again = true
	}
	c.mu.Unlock()
}

// runQueue is the list of connections with frames to write.
type runQueue struct {
	mu     sync.Mutex
	items  []*pushConn
	closed bool
	wake   chan struct{}
}

func (q *runQueue) push(c *pushConn) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	q.signal()
}

func (q *runQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take moves the queued connections into batch, waiting until there are
// some; ok is false when the queue is closed.
func (q *runQueue) take(batch []*pushConn) ([]*pushConn, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			q.signal() // pass the news on to the next worker
			return batch, false
		}
		if len(q.items) > 0 {
			// Take at most half (and at least one) so the other workers
			// get a share of a large fan-out.
			n := max(1, min(len(q.items), 256, (len(q.items)+1)/2))
			batch = append(batch, q.items[:n]...)
			rest := copy(q.items, q.items[n:])
			clear(q.items[rest:])
			q.items = q.items[:rest]
			if cap(q.items) > 4096 && rest < 64 {
				q.items = slices.Clip(q.items[:rest:rest])
			}
			more := rest > 0
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return batch, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// worker writes ready connections without blocking.
func (p *pushPool) worker() {
	defer p.wg.Done()
	var batch []*pushConn
	var w pushWriter
	for {
		var ok bool
		batch, ok = p.runq.take(batch[:0])
		if !ok {
			return
		}
		for i, c := range batch {
			w.run(c, false)
			batch[i] = nil
		}
	}
}

// pushWriter holds a writer's scratch space, reused across connections so
// that no connection keeps a buffer while idle.
type pushWriter struct {
	msgs []*hub.Message
	bufs [][]byte
}

// run writes everything queued for c. A worker (blocking false) hands the
// connection to a goroutine of its own when the socket is full; that
// goroutine (blocking true) writes with the write timeout until the queue
// is empty.
func (w *pushWriter) run(c *pushConn, blocking bool) {
	c.mu.Lock()
	if c.state == pushClosed {
		c.mu.Unlock()
		return
	}
	c.state = pushWriting
	c.mu.Unlock()

	for {
		select {
		case <-c.sub.Done():
			err := c.sub.Err()
			if err == nil {
				err = hub.ErrHubClosed
			}
			c.close(err)
			return
		default:
		}
		w.msgs, w.bufs = drainFrames(c.sub, w.msgs, w.bufs)
		c.mu.Lock()
		if c.heartbeat {
			c.heartbeat = false
			if len(w.bufs) == 0 {
				w.bufs = append(w.bufs, heartbeatFrame)
			}
		}
		if len(w.bufs) == 0 {
			if c.again {
				c.again = false
				c.mu.Unlock()
				continue
			}
			if c.state == pushWriting {
				c.state = pushIdle
			}
			c.mu.Unlock()
			w.release()
			return
		}
		c.again = false
		c.mu.Unlock()

		if blocking {
			if err := c.writeBlocking(w.bufs); err != nil {
				c.close(err)
				w.release()
				return
			}
			continue
		}
		rest, err := c.writeNow(w.bufs)
		if err != nil {
			c.close(err)
			w.release()
			return
		}
		if len(rest) > 0 {
			// The socket is full: finish on a goroutine that may block,
			// so this worker goes on with other connections.
			pending := slices.Clone(rest)
			clear(w.bufs)
			go func() {
				var sw pushWriter
				if err := c.writeBlocking(pending); err != nil {
					c.close(err)
					return
				}
				sw.run(c, true)
			}()
			return
		}
		clear(w.bufs)
	}
}

// release drops scratch space that a burst made large.
func (w *pushWriter) release() {
	clear(w.bufs)
	if cap(w.msgs) > 1024 {
		w.msgs = nil
	}
	if cap(w.bufs) > 1024 {
		w.bufs = nil
	}
}

// writeNow writes as much of bufs as the socket takes without waiting and
// returns what is left.
func (c *pushConn) writeNow(bufs [][]byte) ([][]byte, error) {
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), maxIOV)]
		n, err := writevNow(c.raw, chunk)
		if n > 0 {
			c.lastWrite.Store(time.Now().UnixNano())
		}
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
// non-blocking writes once it passed.
func (c *pushConn) writeBlocking(bufs [][]byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	nb := net.Buffers(bufs)
	if _, err := nb.WriteTo(c.conn); err != nil {
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return c.conn.SetWriteDeadline(time.Time{})
}

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

// closeAfter closes the connection after d, for reason err.
func (c *pushConn) closeAfter(d time.Duration, err error) {
	t := time.AfterFunc(d, func() { c.close(err) })
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
}

// close ends the connection once, for reason err (logged only).
func (c *pushConn) close(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.state = pushClosed
		timers, shard := c.timers, c.shard
		c.timers = nil
		c.mu.Unlock()
		for _, t := range timers {
			t.Stop()
		}
		if shard != nil {
			shard.mu.Lock()
			delete(shard.conns, c)
			shard.mu.Unlock()
		}
		c.srv.push.hangups.forget(c)
		_ = c.conn.Close()
		c.sub.Close()
		c.srv.log.Debug("stream ended", "subscriber", c.sub.ID(), "reason", err)
		if c.onClose != nil {
			c.onClose()
		}
	})
}

// heartbeats sends a keep-alive comment to every connection that has been
// quiet for half an interval, once per interval: one ticker for all.
func (p *pushPool) heartbeats(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	var conns []*pushConn
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			quiet := now.Add(-every / 2).UnixNano()
			for i := range p.shards {
				sh := &p.shards[i]
				sh.mu.Lock()
				for c := range sh.conns {
					if c.lastWrite.Load() <= quiet {
						conns = append(conns, c)
					}
				}
				sh.mu.Unlock()
			}
			for i, c := range conns {
				c.mu.Lock()
				c.heartbeat = true
				c.mu.Unlock()
				c.schedule()
				conns[i] = nil
			}
			conns = conns[:0]
		}
	}
}

var errClientGone = errors.New("client closed the connection")

// canPush reports whether a subscribe request can become a push stream.
func (s *Server) canPush(w http.ResponseWriter, r *http.Request) bool {
	if s.push == nil || r.ProtoMajor != 1 || r.TLS != nil {
		return false
	}
	_, ok := w.(http.Hijacker)
	return ok
}

// hijack takes the connection of a push stream and writes the response
// head. The body is delimited by the connection's end, as HTTP/1.1 allows
// for a response without length or chunking; EventSource clients expect
// exactly that of a stream.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request) (*pushConn, error) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, errors.New("hijacked connection is not TCP")
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &pushConn{srv: s, conn: tcp, raw: raw, fd: -1}
	c.lastWrite.Store(time.Now().UnixNano())
	return c, nil
}

// appendResponseHead writes an HTTP/1.1 200 status line and headers.
func appendResponseHead(dst []byte, proto string, h http.Header) []byte {
	if proto != "HTTP/1.0" {
		proto = "HTTP/1.1"
	}
	dst = append(dst, proto...)
	dst = append(dst, " 200 OK\r\n"...)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				continue // never split the head; net/http drops these too
			}
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = append(dst, "Connection: close\r\nDate: "...)
	dst = append(dst, time.Now().UTC().Format(http.TimeFormat)...)
	dst = append(dst, "\r\n\r\n"...)
	return dst
}

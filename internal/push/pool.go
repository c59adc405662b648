package push

import (
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/clock"
)

// Config tunes a [Pool]. The zero value works.
type Config struct {
	// Workers is the number of goroutines writing ready connections
	// (default 1). Fewer workers make larger batches per write and leave
	// CPU to publishers and the journal: measured on 2 cores, one worker
	// delivered twice what two did.
	Workers int
	// Heartbeat is the keep-alive interval; <= 0 sends none.
	Heartbeat time.Duration
	// WriteTimeout bounds a write that cannot finish at once (default
	// 10s). A connection whose write does not finish in time is closed.
	WriteTimeout time.Duration
	// Clock is the source of time (default: the real clock).
	Clock clock.Clock
}

// Pool owns hijacked connections and writes their sources. It is safe for
// concurrent use.
type Pool struct {
	cfg     Config
	clock   clock.Clock
	shards  [shardCount]shard
	next    atomic.Uint32
	runq    runQueue
	hangups *hangupWatcher
	beat    *ticker

	stop   chan struct{}
	closed atomic.Bool
	wg     sync.WaitGroup
}

// shard is one part of the registry of connections (for heartbeats and
// closing), sharded so that connects and closes from many goroutines do
// not contend on one lock.
type shard struct {
	mu    sync.Mutex
	conns []*Conn // in any order; a connection knows its place (slot)
}

// add puts c in the shard; sh.mu is held.
func (sh *shard) add(c *Conn) {
	c.shard, c.slot = sh, int32(len(sh.conns))
	sh.conns = append(sh.conns, c)
}

// remove takes c out of the shard, moving the last connection into its
// place, and lets go of an array that a crowd of connections left mostly
// empty.
func (sh *shard) remove(c *Conn) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, last := int(c.slot), len(sh.conns)-1
	moved := sh.conns[last]
	sh.conns[i], moved.slot = moved, int32(i)
	sh.conns[last] = nil
	sh.conns = sh.conns[:last]
	if cap(sh.conns) > 64 && len(sh.conns) < cap(sh.conns)/4 {
		sh.conns = slices.Clone(sh.conns)
	}
}

const shardCount = 64

// yieldEvery is how many connections a worker writes before it lets the
// other goroutines waiting for its CPU run.
const yieldEvery = 32

// NewPool starts a pool's workers, heartbeat timer and hang-up watcher.
// It fails where pools are not [Supported].
func NewPool(cfg Config) (*Pool, error) {
	cfg.Workers = max(cfg.Workers, 1)
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	p := &Pool{cfg: cfg, clock: clock.Or(cfg.Clock), stop: make(chan struct{})}
	p.runq.wake = make(chan struct{}, 1)
	hw, err := newHangupWatcher(p.hangup)
	if err != nil {
		return nil, err
	}
	p.hangups = hw
	for range cfg.Workers {
		p.wg.Add(1)
		go p.worker()
	}
	if cfg.Heartbeat > 0 {
		p.beat = newTicker(p.clock, cfg.Heartbeat, p.heartbeats)
	}
	return p, nil
}

// Add hands the pool a connection whose opening bytes are written, to
// write src on it from now on; the pool takes its socket and closes tcp.
// Whatever happens, the pool calls src.Closed once, when the connection
// closes; when Add fails (the pool is closed, or the connection cannot be
// taken or watched) that is before it returns.
// Once Add returns the connection, let the source wake it ([Conn.Wake])
// and wake it once yourself: frames that came due before are not
// signalled again.
func (p *Pool) Add(tcp *net.TCPConn, src Source) (*Conn, error) {
	fd, err := DetachFD(tcp)
	if err != nil {
		src.Closed(err)
		return nil, err
	}
	c := &Conn{pool: p, src: src, fd: int32(fd), users: 1}
	c.wrote() // the opening bytes, written by the caller

	sh := &p.shards[p.next.Add(1)%shardCount]
	sh.mu.Lock()
	// The closed check and the insertion happen under the shard lock that
	// Close also takes after setting closed: a connection is either
	// refused here or closed there.
	if p.closed.Load() {
		sh.mu.Unlock()
		c.close(ErrPoolClosed)
		return nil, ErrPoolClosed
	}
	sh.add(c)
	sh.mu.Unlock()
	if err := p.hangups.watch(c); err != nil {
		c.close(err)
		return nil, err
	}
	return c, nil
}

// Len is the number of open connections.
func (p *Pool) Len() int {
	n := 0
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		n += len(sh.conns)
		sh.mu.Unlock()
	}
	return n
}

// Close closes every connection, for reason (at a frame boundary: one
// being written is closed by its writer when the write ends), and stops
// the pool. Later Adds fail with [ErrPoolClosed].
func (p *Pool) Close(reason error) {
	if p.closed.Swap(true) {
		return
	}
	close(p.stop)
	if p.beat != nil {
		p.beat.stop()
	}
	for _, c := range p.conns() {
		c.shutdown(reason)
	}
	p.runq.close()
	p.hangups.close()
	p.wg.Wait()
}

// conns returns the registered connections.
func (p *Pool) conns() []*Conn {
	var all []*Conn
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		all = append(all, sh.conns...)
		sh.mu.Unlock()
	}
	return all
}

// hangup is called by the watcher when a client's socket is readable or
// closed: a Receiver's client talks, any other client went away (an SSE
// client sends nothing after its request).
func (p *Pool) hangup(c *Conn) {
	if _, ok := c.src.(Receiver); ok {
		go c.receive()
		return
	}
	c.close(ErrClientGone)
}

// heartbeats wakes, with a keep-alive due, every connection quiet for half
// an interval: one timer for all connections.
func (p *Pool) heartbeats() {
	now := p.clock.Now()
	var due []*Conn
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for _, c := range sh.conns {
			if quiet(time.Unix(0, c.lastWrite.Load()), now, p.cfg.Heartbeat) {
				due = append(due, c)
			}
		}
		sh.mu.Unlock()
	}
	for _, c := range due {
		c.mu.Lock()
		c.heartbeat = true
		c.mu.Unlock()
		c.Wake()
	}
}

// worker writes ready connections without blocking.
func (p *Pool) worker() {
	defer p.wg.Done()
	var batch []*Conn
	var w writer
	written := 0
	for {
		var ok bool
		batch, ok = p.runq.take(batch[:0])
		if !ok {
			return
		}
		for i, c := range batch {
			w.run(c, false)
			batch[i] = nil
			if written++; written%yieldEvery == 0 {
				// A worker can write for tens of milliseconds on end; the
				// publishes and the fan-out that feed it should not wait
				// for the scheduler to preempt it.
				runtime.Gosched()
			}
		}
	}
}

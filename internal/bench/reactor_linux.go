package bench

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heraldhub/herald/internal/push"
)

// A reactor reads the SSE streams of many subscribers from one goroutine.
// It polls an epoll set of their sockets without waiting in it, reads
// every ready socket once into one buffer and parses the events out; when
// none is ready it sleeps for reactorTick. No thread ever waits in the
// set, so the hub's write of an event, which on loopback also runs the
// receiving side, wakes nothing: a remote client would be woken on its
// own machine, not on the hub's. A delivered event costs the generator
// one read, where a goroutine per stream pays a read, a read that finds
// nothing and parks it, and Go's poller's wake-up of it.
type reactor struct {
	epfd    int
	mu      sync.Mutex
	streams map[int32]*reactorStream
}

// reactorTick is how long an idle reactor sleeps: the resolution it adds
// to the latencies measured.
const reactorTick = 500 * time.Microsecond

// reactorStream is a stream the reactor reads.
type reactorStream struct {
	st   *stream
	fd   int
	emit func(id, data []byte, now int64)
	// done gets why the stream ended, once.
	done chan error

	mu     sync.Mutex
	closed bool
}

// readers are a pool's reactors, one per processor; they stop once the
// pool's context has ended and every stream they read has ended.
type readers struct {
	set  []*reactor
	next atomic.Uint64
	wg   sync.WaitGroup
}

// errNotDetachable reports a stream the reactor cannot read: over TLS, or
// chunked, which only its own reader decodes.
var errNotDetachable = errors.New("stream not readable by a reactor")

func newReaders(ctx context.Context) (*readers, error) {
	rs := &readers{}
	for range max(1, runtime.GOMAXPROCS(0)) {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			rs.set = nil
			return nil, err
		}
		rs.set = append(rs.set, &reactor{epfd: epfd, streams: make(map[int32]*reactorStream)})
	}
	for _, r := range rs.set {
		rs.wg.Go(func() { r.run(ctx) })
	}
	return rs, nil
}

// wait waits until every reactor has stopped.
func (rs *readers) wait() { rs.wg.Wait() }

// read hands st to a reactor, which calls emit for every event it reads,
// with the time it read it, from its own goroutine, and sends on ended
// why the stream ended; stop ends it sooner. The events st had already
// read are emitted first, by this call. A stream over TLS or chunked
// gives errNotDetachable, and stays as it was.
func (rs *readers) read(st *stream, emit func(id, data []byte, now int64)) (ended <-chan error, stop func(), err error) {
	r := rs.set[rs.next.Add(1)%uint64(len(rs.set))]
	fd, pending, err := st.detach()
	if err != nil {
		return nil, nil, err
	}
	s := &reactorStream{st: st, fd: fd, emit: emit, done: make(chan error, 1)}
	now := time.Now().UnixNano()
	if err := st.feed(pending, func(id, data []byte) { emit(id, data, now) }); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	r.mu.Lock()
	r.streams[int32(fd)] = s
	r.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.streams, int32(fd))
		r.mu.Unlock()
		unix.Close(fd)
		return nil, nil, err
	}
	return s.done, s.shutdown, nil
}

// detach takes the stream's socket away from Go's poller: it returns a
// descriptor of its own for the socket, and the bytes the stream's
// readers had read from it and not parsed yet.
func (s *stream) detach() (int, []byte, error) {
	tc, ok := s.conn.(*net.TCPConn)
	if !ok || s.chunked {
		return -1, nil, errNotDetachable
	}
	var pending []byte
	for _, br := range []interface {
		Buffered() int
		Peek(int) ([]byte, error)
	}{s.body, s.raw} {
		b, _ := br.Peek(br.Buffered())
		pending = append(pending, b...)
	}
	fd, err := push.DetachFD(tc)
	if err != nil {
		return -1, nil, err
	}
	return fd, pending, nil
}

// run reads the reactor's streams until ctx has ended and none is left.
func (r *reactor) run(ctx context.Context) {
	defer unix.Close(r.epfd)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.EpollWait(r.epfd, events, 0)
		if err != nil && err != unix.EINTR {
			panic("bench: epoll_wait: " + err.Error())
		}
		if n <= 0 {
			if ctx.Err() != nil {
				r.mu.Lock()
				left := len(r.streams)
				r.mu.Unlock()
				if left == 0 {
					return
				}
			}
			time.Sleep(reactorTick)
			continue
		}
		for _, ev := range events[:n] {
			r.mu.Lock()
			rs := r.streams[ev.Fd]
			r.mu.Unlock()
			if rs != nil {
				r.read(rs, buf)
			}
		}
	}
}

// read reads rs once (more while that fills the buffer) and parses what
// it got; at the end of the stream, or on an error, it lets rs go.
func (r *reactor) read(rs *reactorStream, buf []byte) {
	for {
		n, err := unix.Read(rs.fd, buf)
		switch {
		case n > 0:
			now := time.Now().UnixNano()
			if err := rs.st.feed(buf[:n], func(id, data []byte) { rs.emit(id, data, now) }); err != nil {
				r.remove(rs, err)
				return
			}
			if n < len(buf) {
				// Level-triggered: what came since is reported again.
				return
			}
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		case err == nil:
			r.remove(rs, errStreamEnded)
			return
		default:
			r.remove(rs, err)
			return
		}
	}
}

func (r *reactor) remove(rs *reactorStream, reason error) {
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, rs.fd, nil)
	r.mu.Lock()
	delete(r.streams, int32(rs.fd))
	r.mu.Unlock()
	rs.mu.Lock()
	rs.closed = true
	unix.Close(rs.fd)
	rs.mu.Unlock()
	rs.done <- reason
}

// shutdown ends the stream: the reactor reads its end and lets it go. The
// descriptor is shut down, not closed, so that it cannot be reused while
// the reactor still knows it by number.
func (rs *reactorStream) shutdown() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.closed {
		_ = unix.Shutdown(rs.fd, unix.SHUT_RDWR)
	}
}

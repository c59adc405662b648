//go:build linux

package push

import (
	"errors"
	"net"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Supported reports whether this system has what a [Pool] needs: Linux's
// non-blocking writev and epoll.
const Supported = true

// maxIOV is the most buffers one writev takes (IOV_MAX).
const maxIOV = 1024

// DetachFD takes the socket of tcp away from Go's net package and poller:
// it returns a duplicate of its descriptor, for the caller to read, write
// and close itself (non-blocking, as Go's poller set it up: the flag
// belongs to the socket, not the number), and closes tcp, whatever
// happens. The pool takes its connections' sockets this way; so does the
// load generator's reactor (internal/bench). Linux only.
func DetachFD(tcp *net.TCPConn) (int, error) {
	defer tcp.Close()
	raw, err := tcp.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// netConn makes a net.Conn of a duplicate of fd, for the rare waits that
// need Go's poller (a slow client's writes, a lingering close).
func netConn(fd int) (*net.TCPConn, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "push")
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, errors.New("push: not a TCP socket")
	}
	return tcp, nil
}

func closeFD(fd int) { _ = unix.Close(fd) }

// writevNow makes one non-blocking writev of bufs.
func writevNow(fd int, bufs [][]byte) (int, error) {
	for {
		n, err := unix.Writev(fd, bufs)
		if !errors.Is(err, unix.EINTR) {
			return max(n, 0), err
		}
	}
}

// readNow makes one non-blocking read into buf.
func readNow(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if !errors.Is(err, unix.EINTR) {
			return max(n, 0), err
		}
	}
}

// hangupWatcher tells when the client of a push connection has closed it,
// without a goroutine reading each connection: an epoll set of its own
// (beside Go's poller) waits for RDHUP/HUP/ERR on every push socket.
type hangupWatcher struct {
	epfd    int
	gone    func(*Conn)
	mu      sync.Mutex
	gen     uint32
	stopped bool
	conns   []*Conn // by descriptor: they are small numbers, reused lowest first
	done    chan struct{}
	pipe    [2]int // written to wake the waiter at close
}

func newHangupWatcher(gone func(*Conn)) (*hangupWatcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	h := &hangupWatcher{epfd: epfd, gone: gone, done: make(chan struct{})}
	if err := unix.Pipe2(h.pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(h.pipe[0])}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, h.pipe[0], &ev); err != nil {
		h.closeFDs()
		return nil, err
	}
	go h.wait()
	return h, nil
}

func (h *hangupWatcher) closeFDs() {
	unix.Close(h.epfd)
	unix.Close(h.pipe[0])
	unix.Close(h.pipe[1])
}

// watch adds c's socket. Any input counts: an SSE client sends nothing after
// its request, so readable means closed or misbehaving, and either way the
// stream is over. The socket is held meanwhile, so that its number is not
// given to another; a connection closed already is not watched, and one
// closed later is forgotten after this (both take h.mu).
func (h *hangupWatcher) watch(c *Conn) error {
	if !c.hold() {
		return net.ErrClosed
	}
	defer c.let()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return ErrPoolClosed
	}
	if c.closed() {
		return net.ErrClosed
	}
	fd := int(c.fd)
	h.gen++
	// The event carries the generation beside the descriptor (the Pad
	// half of epoll's 64-bit data), so an event fetched just before a
	// socket was closed cannot close a new one that reused its number.
	ev := unix.EpollEvent{Events: watchEvents, Fd: c.fd, Pad: int32(h.gen)}
	if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	c.gen = h.gen
	if fd >= len(h.conns) {
		h.conns = slices.Grow(h.conns, fd+1-len(h.conns))[:fd+1]
	}
	h.conns[fd] = c
	return nil
}

// rearm watches c's socket again once its reader has emptied it (the
// registration is one-shot). A connection closed meanwhile is left alone.
func (h *hangupWatcher) rearm(c *Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A connection still in h.conns has not closed its socket: close
	// forgets it first.
	if h.stopped || h.at(c.fd) != c {
		return nil
	}
	ev := unix.EpollEvent{Events: watchEvents, Fd: c.fd, Pad: int32(c.gen)}
	return unix.EpollCtl(h.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
}

// watchEvents are what the watcher waits for on a socket: input (a
// Receiver's client talking, or any client closing) and hang-ups, once
// per registration.
const watchEvents = unix.EPOLLRDHUP | unix.EPOLLIN | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLONESHOT

// forget removes c before its socket is closed, so that a later socket
// with the same descriptor number is not mistaken for it.
func (h *hangupWatcher) forget(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || h.at(c.fd) != c {
		return
	}
	h.conns[c.fd] = nil
	_ = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, int(c.fd), nil)
}

// at is the connection watched on descriptor fd, or nil; h.mu is held.
func (h *hangupWatcher) at(fd int32) *Conn {
	if fd < 0 || int(fd) >= len(h.conns) {
		return nil
	}
	return h.conns[fd]
}

func (h *hangupWatcher) wait() {
	defer close(h.done)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(h.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == h.pipe[0] {
				return
			}
			h.mu.Lock()
			c := h.at(ev.Fd)
			h.mu.Unlock()
			if c != nil && int32(c.gen) == ev.Pad {
				h.gone(c)
			}
		}
	}
}

func (h *hangupWatcher) close() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	h.mu.Unlock()
	_, _ = unix.Write(h.pipe[1], []byte{0})
	<-h.done
	// No watch or forget touches the descriptors once stopped is set.
	h.closeFDs()
}

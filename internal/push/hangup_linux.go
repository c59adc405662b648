//go:build linux

package push

import (
	"errors"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported reports whether this system has what a [Pool] needs: Linux's
// non-blocking writev and epoll.
const Supported = true

// maxIOV is the most buffers one writev takes (IOV_MAX).
const maxIOV = 1024

// writevNow makes one non-blocking writev of bufs: the socket is already
// in non-blocking mode (Go's poller), and returning true from the raw
// write callback means "do not wait for writability".
func writevNow(raw syscall.RawConn, bufs [][]byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Writev(int(fd), bufs)
			if !errors.Is(werr, unix.EINTR) {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	return n, werr
}

// readNow makes one non-blocking read into buf.
func readNow(raw syscall.RawConn, buf []byte) (int, error) {
	var n int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if !errors.Is(rerr, unix.EINTR) {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	return n, rerr
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
// stream is over. The descriptor is registered inside Control, which keeps
// it from being closed (and its number reused) meanwhile.
func (h *hangupWatcher) watch(c *Conn) error {
	var werr error
	err := c.raw.Control(func(f uintptr) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.stopped {
			werr = ErrPoolClosed
			return
		}
		fd := int(f)
		h.gen++
		// The event carries the generation beside the descriptor (the Pad
		// half of epoll's 64-bit data), so an event fetched just before a
		// socket was closed cannot close a new one that reused its number.
		ev := unix.EpollEvent{Events: watchEvents, Fd: int32(fd), Pad: int32(h.gen)}
		if werr = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &ev); werr != nil {
			return
		}
		c.fd, c.gen = int32(fd), h.gen
		if fd >= len(h.conns) {
			h.conns = slices.Grow(h.conns, fd+1-len(h.conns))[:fd+1]
		}
		h.conns[fd] = c
	})
	if err != nil {
		return err
	}
	return werr
}

// rearm watches c's socket again once its reader has emptied it (the
// registration is one-shot). A connection closed meanwhile is left alone.
func (h *hangupWatcher) rearm(c *Conn) error {
	var werr error
	err := c.raw.Control(func(f uintptr) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.stopped || int(c.fd) != int(f) || h.at(c.fd) != c {
			return
		}
		ev := unix.EpollEvent{Events: watchEvents, Fd: c.fd, Pad: int32(c.gen)}
		werr = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
	})
	if err != nil {
		return err
	}
	return werr
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

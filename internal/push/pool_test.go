//go:build linux

package push_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/push"
)

// connPair returns the server side of a loopback TCP connection and a
// reader of its client side.
func connPair(t *testing.T) (*net.TCPConn, *bufio.Reader, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return server.(*net.TCPConn), bufio.NewReader(client), client
}

// expect reads exactly want from r.
func expect(t *testing.T, r *bufio.Reader, client net.Conn, want string) {
	t.Helper()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("reading %q: got %q, %v", want, got, err)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func closedWith(t *testing.T, s *source) error {
	t.Helper()
	select {
	case err := <-s.closed:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Closed not called")
	}
	return nil
}

func newPool(t *testing.T, cfg push.Config) *push.Pool {
	t.Helper()
	p, err := push.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(push.ErrPoolClosed) })
	return p
}

func add(t *testing.T, p *push.Pool, src *source) (*bufio.Reader, net.Conn) {
	t.Helper()
	server, r, client := connPair(t)
	c, err := p.Add(server, src)
	if err != nil {
		t.Fatal(err)
	}
	src.setWake(c.Wake)
	c.Wake()
	return r, client
}

// Heartbeats follow one rule, driven by the pool's clock: at each tick, a
// connection quiet for half an interval gets the keep-alive frame, and a
// busy one does not.
func TestPoolHeartbeats(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	p := newPool(t, push.Config{Heartbeat: 10 * time.Second, Clock: clk})
	idle, busy := newSource(), newSource()
	idleR, idleC := add(t, p, idle)
	busyR, busyC := add(t, p, busy)

	clk.Advance(6 * time.Second)
	busy.send("data: 1\n\n")
	expect(t, busyR, busyC, "data: 1\n\n")
	clk.Advance(4 * time.Second) // the tick at 10s: busy wrote 4s ago
	expect(t, idleR, idleC, ":\n")
	busy.send("data: 2\n\n")
	// The next thing the busy connection gets is its frame, not a beat.
	expect(t, busyR, busyC, "data: 2\n\n")
	clk.Advance(10 * time.Second) // the tick at 20s: both quiet for 10s
	expect(t, idleR, idleC, ":\n")
	expect(t, busyR, busyC, ":\n")
}

// Connections leave the pool in any order, many per shard, and the pool
// keeps the rest: every one left still gets its heartbeat.
func TestPoolKeepsTheRest(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	p := newPool(t, push.Config{Heartbeat: 10 * time.Second, Clock: clk})
	const n = 400 // about 6 per shard
	type client struct {
		src *source
		r   *bufio.Reader
		c   net.Conn
	}
	clients := make([]client, n)
	for i := range clients {
		src := newSource()
		r, c := add(t, p, src)
		clients[i] = client{src, r, c}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var left []client
	for _, i := range rng.Perm(n) {
		if i%3 == 0 {
			left = append(left, clients[i])
			continue
		}
		clients[i].c.Close()
		if err := closedWith(t, clients[i].src); !errors.Is(err, push.ErrClientGone) {
			t.Fatalf("Closed(%v), want ErrClientGone", err)
		}
	}
	if got := p.Len(); got != len(left) {
		t.Fatalf("pool holds %d connections, want %d", got, len(left))
	}
	clk.Advance(10 * time.Second)
	for _, c := range left {
		expect(t, c.r, c.c, ":\n")
	}
}

// openFiles counts this process's descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// The pool owns each socket: none is left open once its connection
// closed, whether it closed idle, after a slow client caught up (whose
// writes waited on a duplicate of the socket), or while it was slow.
func TestPoolClosesEverySocket(t *testing.T) {
	p := newPool(t, push.Config{WriteTimeout: 5 * time.Second})
	before := openFiles(t)
	big := strings.Repeat("x", 1<<20)
	var srcs []*source
	var clients []net.Conn
	for i := range 30 {
		src := newSource()
		r, client := add(t, p, src)
		srcs, clients = append(srcs, src), append(clients, client)
		switch i % 3 {
		case 1: // slow, then caught up
			for range 4 {
				src.send(big)
			}
			for range 4 {
				expect(t, r, client, big)
			}
		case 2: // slow when it closes
			for range 8 {
				src.send(big)
			}
		}
	}
	for i, client := range clients {
		client.Close()
		closedWith(t, srcs[i])
	}
	deadline := time.Now().Add(5 * time.Second)
	for openFiles(t) > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFiles(t) - before; n > 0 {
		t.Fatalf("%d descriptors left open after every connection closed", n)
	}
}

// Sockets close while their streams are written and new ones take their
// numbers: each client still gets only its own stream's frames.
func TestPoolNoCrossTalk(t *testing.T) {
	p := newPool(t, push.Config{})
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		const n = 16
		type stream struct {
			src    *source
			r      *bufio.Reader
			client net.Conn
			tag    string
		}
		streams := make([]stream, n)
		for i := range streams {
			src := newSource()
			r, client := add(t, p, src)
			streams[i] = stream{src, r, client, fmt.Sprintf("data: %d/%d\n\n", round, i)}
		}
		var wg sync.WaitGroup
		for i, st := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					st.src.send(st.tag)
				}
			}()
			if i%2 == 0 {
				// Hung up at some point while frames are being written.
				time.AfterFunc(time.Duration(rng.IntN(2000))*time.Microsecond, func() { st.client.Close() })
			}
		}
		for i, st := range streams {
			if i%2 == 0 {
				continue
			}
			for range 200 {
				expect(t, st.r, st.client, st.tag)
			}
		}
		wg.Wait()
		for i, st := range streams {
			if i%2 == 0 {
				closedWith(t, st.src)
			} else {
				st.client.Close()
			}
		}
	}
}

// A stream that ends gets its last frame, is closed, and its source hears
// why once.
func TestPoolEndWritesGoodbye(t *testing.T) {
	p := newPool(t, push.Config{})
	src := newSource()
	src.goodbye = []byte("event: cancel\ndata: null\n\n")
	r, client := add(t, p, src)
	src.send("data: x\n\n")
	expect(t, r, client, "data: x\n\n")
	reason := errors.New("token expired")
	src.end(reason)
	expect(t, r, client, "event: cancel\ndata: null\n\n")
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the goodbye: %v, want EOF", err)
	}
	if err := closedWith(t, src); err != reason {
		t.Fatalf("Closed(%v), want %v", err, reason)
	}
	if n := p.Len(); n != 0 {
		t.Fatalf("pool holds %d connections after the end", n)
	}
	if got, want := src.sent.Load(), int64(len("data: x\n\n")+len(src.goodbye)); got != want {
		t.Fatalf("the source was told of %d bytes sent, want %d", got, want)
	}
}

// A client that hangs up is noticed without a read: its source hears
// ErrClientGone.
func TestPoolNoticesHangup(t *testing.T) {
	p := newPool(t, push.Config{})
	src := newSource()
	_, client := add(t, p, src)
	client.Close()
	if err := closedWith(t, src); !errors.Is(err, push.ErrClientGone) {
		t.Fatalf("Closed(%v), want ErrClientGone", err)
	}
}

// Close ends every connection with the reason given and refuses later
// ones, which are closed and told so before Add returns.
func TestPoolClose(t *testing.T) {
	p, err := push.NewPool(push.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource()
	r, client := add(t, p, src)
	reason := errors.New("draining")
	p.Close(reason)
	if err := closedWith(t, src); err != reason {
		t.Fatalf("Closed(%v), want %v", err, reason)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after Close: %v, want EOF", err)
	}

	late := newSource()
	server, _, _ := connPair(t)
	if _, err := p.Add(server, late); !errors.Is(err, push.ErrPoolClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := closedWith(t, late); !errors.Is(err, push.ErrPoolClosed) {
		t.Fatalf("late source Closed(%v)", err)
	}
	if n := p.Len(); n != 0 {
		t.Fatalf("closed pool holds %d connections", n)
	}
}

// A client that reads slowly does not hold up the others: its writes
// finish on a goroutine of their own, and a stalled one is cut by the
// write timeout.
func TestPoolSlowReaderIsolated(t *testing.T) {
	p := newPool(t, push.Config{WriteTimeout: 200 * time.Millisecond})
	stalled, fast := newSource(), newSource()
	_, _ = add(t, p, stalled) // never read
	fastR, fastC := add(t, p, fast)
	big := strings.Repeat("x", 1<<20)
	for range 16 { // far more than the socket buffers hold
		stalled.send("data: " + big + "\n\n")
	}
	fast.send("data: fast\n\n")
	expect(t, fastR, fastC, "data: fast\n\n")
	if err := closedWith(t, stalled); !isTimeout(err) {
		t.Fatalf("stalled Closed(%v), want a write timeout", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// echo is a Receiver that writes back each line its client sends, and
// refuses the line "bye" with a last frame.
type echo struct {
	*source
	partial []byte
}

var errBye = errors.New("client said bye")

func (e *echo) Receive(data []byte) error {
	e.partial = append(e.partial, data...)
	for {
		i := strings.IndexByte(string(e.partial), '\n')
		if i < 0 {
			return nil
		}
		line := string(e.partial[:i+1])
		e.partial = e.partial[i+1:]
		if line == "bye\n" {
			return errBye
		}
		e.send("echo " + line)
	}
}

// A Receiver's client is read whenever it sends, as often as it sends,
// with nothing held between; a refusal ends the stream with its last
// frame, and the source hears why.
func TestPoolReadsReceivers(t *testing.T) {
	p := newPool(t, push.Config{})
	src := &echo{source: newSource()}
	src.goodbye = []byte("goodbye\n")
	server, r, client := connPair(t)
	c, err := p.Add(server, src)
	if err != nil {
		t.Fatal(err)
	}
	src.setWake(c.Wake)
	for i := range 50 {
		line := strings.Repeat("x", i*1000) + "\n"
		// Split across writes: the source reassembles.
		if _, err := client.Write([]byte(line[:len(line)/2])); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write([]byte(line[len(line)/2:])); err != nil {
			t.Fatal(err)
		}
		expect(t, r, client, "echo "+line)
	}
	if _, err := client.Write([]byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	expect(t, r, client, "goodbye\n")
	if err := closedWith(t, src.source); err != errBye {
		t.Fatalf("Closed(%v), want %v", err, errBye)
	}
}

// Close gives each stream its last frame before closing it (a WebSocket's
// close frame), whether or not a writer holds it.
func TestPoolCloseWritesGoodbye(t *testing.T) {
	p, err := push.NewPool(push.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource()
	src.goodbye = []byte("going away\n")
	r, client := add(t, p, src)
	src.send("data: x\n\n")
	expect(t, r, client, "data: x\n\n")
	p.Close(errors.New("draining"))
	expect(t, r, client, "going away\n")
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the goodbye: %v, want EOF", err)
	}
}

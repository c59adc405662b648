// Package natstest runs NATS servers with JetStream inside a test's
// process: a single server, or a cluster of them routed to each other.
// They are real nats-server instances (module
// github.com/nats-io/nats-server/v2), listening on loopback ports the
// system picks, keeping their JetStream files in the test's temporary
// directory; the test's cleanup shuts them down.
//
// A [Server] can be stopped and started again on the same port and
// files, as a restart of the process would: clients configured to
// reconnect find it again, and its streams are still there.
//
// Only tests import this package.
package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startTimeout bounds the wait for a server to accept clients, and for a
// cluster to elect its JetStream meta leader.
const startTimeout = 20 * time.Second

// Server is one nats-server with JetStream.
type Server struct {
	t    testing.TB
	opts server.Options

	mu  sync.Mutex
	srv *server.Server
}

// Run starts a single server with JetStream, its files in a temporary
// directory of t, and shuts it down when the test ends.
func Run(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: baseOptions(t, "solo")}
	s.opts.Port = freePort(t)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// baseOptions are the options every test server shares.
func baseOptions(t testing.TB, name string) server.Options {
	return server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		// A restarted server takes back its port at once.
		LameDuckDuration: 0,
	}
}

// Start starts the server, or starts it again after [Server.Stop], on the
// same port and with the same files, and waits until it accepts clients.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("natstest: new server %s: %v", s.opts.ServerName, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server %s not ready within %v", s.opts.ServerName, startTimeout)
	}
	s.srv = srv
}

// Stop shuts the server down and waits until it has. Its clients see
// the connection drop. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart stops the server and starts it again.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Name is the server's name, as JetStream reports it (a stream's
// leader, for instance).
func (s *Server) Name() string { return s.opts.ServerName }

// URL is the address clients connect to.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// Running reports whether the server is started.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// Server returns the running nats-server, nil when stopped.
func (s *Server) Server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Cluster is a JetStream cluster of servers routed to each other.
type Cluster struct {
	Servers []*Server
}

// RunCluster starts a JetStream cluster of n servers, waits until it has
// elected its meta leader, and shuts it down when the test ends.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	name := "herald-" + fmt.Sprint(time.Now().UnixNano())
	c := &Cluster{}
	routes := make([]*url.URL, n)
	for i := range n {
		s := &Server{t: t, opts: baseOptions(t, fmt.Sprintf("n%d", i+1))}
		s.opts.Port = freePort(t)
		s.opts.Cluster = server.ClusterOpts{Name: name, Host: "127.0.0.1", Port: freePort(t)}
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", s.opts.Cluster.Port)}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		s.opts.Routes = routes
	}
	// Every server must be up for the others to route to it, so start
	// them all before waiting for any.
	var wg sync.WaitGroup
	for _, s := range c.Servers {
		wg.Go(s.Start)
	}
	wg.Wait()
	for _, s := range c.Servers {
		t.Cleanup(s.Stop)
	}
	c.WaitLeader(t)
	c.waitPlacement(t)
	return c
}

// waitPlacement waits until the cluster can place a stream on every
// server: the meta leader learns that its peers are online some time after
// it is elected, and refuses such a stream until then.
func (c *Cluster) waitPlacement(t testing.TB) {
	t.Helper()
	nc := Connect(t, c.URLs())
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cfg := jetstream.StreamConfig{Name: "natstest_placement", Subjects: []string{"natstest.placement"}, Replicas: len(c.Servers), Storage: jetstream.MemoryStorage}
	for {
		_, err := js.CreateStream(ctx, cfg)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("natstest: the cluster cannot place a stream on its %d servers: %v", len(c.Servers), err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := js.DeleteStream(ctx, cfg.Name); err != nil {
		t.Fatalf("natstest: %v", err)
	}
}

// WaitLeader waits until the running servers have a JetStream meta
// leader and each of them is current with it.
func (c *Cluster) WaitLeader(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		leader, current := false, true
		for _, s := range c.Servers {
			srv := s.Server()
			if srv == nil {
				continue
			}
			leader = leader || srv.JetStreamIsLeader()
			current = current && srv.JetStreamIsCurrent()
		}
		if leader && current {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("natstest: no JetStream meta leader within %v", startTimeout)
}

// URLs lists every server's address, comma-separated, as nats.Connect
// takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}

// Server returns the server named name, nil if none is.
func (c *Cluster) Server(name string) *Server {
	for _, s := range c.Servers {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// Connect connects to url (one address or several, comma-separated) and
// closes the connection when the test ends. The connection reconnects
// forever, a few milliseconds after losing its server, so that tests
// which stop servers are quick; opts come after these and may change them.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	all := append([]nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(20 * time.Millisecond),
		nats.ReconnectJitter(0, 0),
	}, opts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Outside runs functions on a goroutine started outside any
// testing/synctest bubble, for tests inside one that need something made
// outside it. A NATS connection, and whatever subscribes on it, is such a
// thing: the connection's goroutine wakes a subscription's goroutine
// through a sync.Cond, which the runtime forbids across a bubble's
// boundary, and waits on its socket, which keeps a bubble's clock still.
type Outside struct {
	fns chan func()
}

// NewOutside starts the goroutine; call it outside any bubble. The
// goroutine ends with the test.
func NewOutside(t testing.TB) *Outside {
	o := &Outside{fns: make(chan func())}
	go func() {
		for fn := range o.fns {
			fn()
		}
	}()
	t.Cleanup(func() { close(o.fns) })
	return o
}

// Do runs fn on the goroutine and returns when it has returned. It may be
// called from inside a bubble. fn must not call t.Fatal and its kind,
// which end the goroutine that calls them.
func (o *Outside) Do(fn func()) {
	// Waiting on a mutex, which the other goroutine unlocks, is allowed
	// across the boundary; a channel made in the bubble is not.
	var done sync.Mutex
	done.Lock()
	o.fns <- func() {
		defer done.Unlock()
		fn()
	}
	done.Lock()
}

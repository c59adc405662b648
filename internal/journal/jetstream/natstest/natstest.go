// Package natstest runs NATS servers with JetStream for tests: a single
// server, or a cluster of them routed to each other. They are real
// nats-server processes, built once from the module the project requires
// (github.com/nats-io/nats-server/v2) with the go command, listening on
// loopback ports the system picks, keeping their JetStream files in the
// test's temporary directory; the test's cleanup stops them.
//
// Processes rather than servers in the test's own process: a test binary
// built with -race instruments the server's code too, and the detector
// then reports nats-server's own data races (v2.15.3 has one in its
// clustered message path) as the test's failures.
//
// A [Server] can be stopped and started again on the same port and
// files, as a restart of the process would: clients configured to
// reconnect find it again, and its streams are still there.
//
// Only tests import this package.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startTimeout bounds the wait for a server to accept clients, and for a
// cluster to elect its JetStream meta leader.
const startTimeout = 20 * time.Second

// serverModule is the module the servers are built from: a tool of the
// project's go.mod, which pins its version.
const serverModule = "github.com/nats-io/nats-server/v2"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// serverBinary returns the path of a nats-server built from the version
// of serverModule that the project requires, building it the first time
// (in the system's temporary directory, shared by the test binaries of a
// run; go build's cache makes a rebuild cheap).
func serverBinary() (string, error) {
	buildOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", serverModule).Output()
		if err != nil {
			buildErr = fmt.Errorf("go list -m %s: %v", serverModule, err)
			return
		}
		version := strings.TrimSpace(string(out))
		dir := filepath.Join(os.TempDir(), "herald-natstest")
		binary = filepath.Join(dir, "nats-server-"+version)
		if _, err := os.Stat(binary); err == nil {
			return
		}
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		tmp := fmt.Sprintf("%s.%d.tmp", binary, os.Getpid())
		if out, err := exec.Command("go", "build", "-o", tmp, serverModule).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build %s: %v\n%s", serverModule, err, out)
			return
		}
		buildErr = os.Rename(tmp, binary)
	})
	return binary, buildErr
}

// Server is one nats-server process with JetStream.
type Server struct {
	t       testing.TB
	name    string
	port    int // clients'
	monitor int // HTTP monitoring (/healthz)
	args    []string
	log     string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// newServer describes a server named name with its files in a temporary
// directory of t; extra are more nats-server flags.
func newServer(t testing.TB, name string, extra ...string) *Server {
	dir := t.TempDir()
	s := &Server{t: t, name: name, port: freePort(t), monitor: freePort(t), log: filepath.Join(dir, "nats-server.log")}
	s.args = append([]string{
		"-n", name, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-m", strconv.Itoa(s.monitor),
		"-js", "-sd", filepath.Join(dir, "store"),
	}, extra...)
	return s
}

// Run starts a single server with JetStream, its files in a temporary
// directory of t, and stops it when the test ends.
func Run(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "solo")
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server, or starts it again after [Server.Stop], on the
// same port and with the same files, and waits until it accepts clients.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
}

// start is Start, which may run on a goroutine other than the test's.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	bin, err := serverBinary()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, s.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting server %s: %w", s.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			return fmt.Errorf("server %s exited at start: %s", s.name, tail(s.log))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("server %s not ready within %v: %s", s.name, startTimeout, tail(s.log))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd, s.done = cmd, done
	return nil
}

// Stop shuts the server down, as SIGTERM does, and waits until it has.
// Its clients see the connection drop. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
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
func (s *Server) Name() string { return s.name }

// URL is the address clients connect to.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Running reports whether the server is started.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// healthy reports whether the server answers /healthz with 200: it runs
// JetStream and, in a cluster, knows the meta leader and is current with
// it.
func (s *Server) healthy() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.monitor))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail is the end of the log file at path, for a failure's message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Cluster is a JetStream cluster of servers routed to each other.
type Cluster struct {
	Servers []*Server
}

// RunCluster starts a JetStream cluster of n servers, waits until it has
// elected its meta leader, and stops it when the test ends.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	name := "herald-" + fmt.Sprint(time.Now().UnixNano())
	clusterPorts := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		clusterPorts[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i])
	}
	c := &Cluster{}
	for i := range n {
		c.Servers = append(c.Servers, newServer(t, fmt.Sprintf("n%d", i+1),
			"--cluster_name", name, "--cluster", routes[i], "--routes", strings.Join(routes, ",")))
	}
	// Every server must be up for the others to route to it, so start
	// them all before waiting for any.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range c.Servers {
		wg.Go(func() { errs[i] = s.start() })
	}
	wg.Wait()
	for _, s := range c.Servers {
		t.Cleanup(s.Stop)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("natstest: %v", err)
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
	if err := js.DeleteStream(ctx, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("natstest: %v", err)
	}
}

// WaitLeader waits until the running servers have a JetStream meta
// leader and each of them is current with it (their /healthz).
func (c *Cluster) WaitLeader(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		healthy := true
		for _, s := range c.Servers {
			if s.Running() && !s.healthy() {
				healthy = false
			}
		}
		if healthy {
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

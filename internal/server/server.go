package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/rules"
	"github.com/heraldhub/herald/internal/state/tree"
	"github.com/heraldhub/herald/internal/transport/longpoll"
)

// Config is the server's configuration. The zero value of every field
// except Hub and Journal is usable.
type Config struct {
	// Hub fans events out; Journal is the one it was built on (for
	// readiness: see [journal.Checker]).
	Hub     *hub.Hub
	Journal journal.Journal

	// PublisherKey verifies publishers' tokens; nil refuses every publish.
	PublisherKey *auth.Key
	// SubscriberKey verifies subscribers' tokens; nil accepts only anonymous
	// subscribers (when Anonymous is set).
	SubscriberKey *auth.Key
	// Anonymous lets subscribers without a token receive public events.
	Anonymous bool

	// CORSOrigins lists the origins allowed to subscribe and publish from a
	// browser ("*" allows any origin, without credentials).
	CORSOrigins []string

	// Heartbeat is the interval of keep-alive comments on idle streams
	// (default 15s; negative disables).
	Heartbeat time.Duration
	// RetryHint is the `retry:` sent at the start of every stream
	// (default 3s; negative disables).
	RetryHint time.Duration
	// WriteTimeout bounds each write to a subscriber (default 10s). A stream
	// whose write does not finish in time is closed.
	WriteTimeout time.Duration
	// MaxLifetime ends a stream after this long, with ±10% jitter so that a
	// crowd of clients does not reconnect at once (0: no limit).
	MaxLifetime time.Duration
	// MaxConnections caps concurrent streams; more get 503 (0: no limit).
	MaxConnections int

	// MaxBodyBytes caps a publish request body (default 1 MiB).
	MaxBodyBytes int64
	// PublishTimeout bounds the wait for the journal to take a publish
	// over HTTP or WebSocket (default 5s); past it the publisher gets 503
	// and retries. An event the journal already queued may still be
	// stored: a publisher that retries with its own id is not stored twice.
	PublishTimeout time.Duration
	// MaxSelectors caps the topic selectors of one subscription (default 64).
	MaxSelectors int
	// MaxSelectorLength caps one topic selector, in bytes (default 2048).
	// The limits of a published event are the hub's: see hub.Config.Limits.
	MaxSelectorLength int
	// MaxSelectorCost caps the total cost of one subscription's selectors
	// (default [DefaultMaxSelectorCost]): the instructions of their
	// compiled matchers, 1 for a plain topic or a simple template (see
	// selector.Selector.Cost). It bounds the memory and matching time any
	// one subscriber, anonymous or not, can make the hub spend: about 50
	// bytes per unit once matched, so some 13 KiB at the default.
	MaxSelectorCost int

	// PollMaxWait caps how long a poll is held when nothing is due
	// (default [longpoll.DefaultMaxWait]).
	PollMaxWait time.Duration

	// Limits bounds what one client may cost; see [Limits].
	Limits Limits

	// SubscriptionEvents publishes Mercure subscription events on connect and
	// disconnect and enables the subscriptions API.
	SubscriptionEvents bool
	// Cluster, with SubscriptionEvents, carries the subscription events
	// and the subscriptions API across the nodes of a cluster; nil on a
	// node alone. New starts it (Cluster.Serve); its owner stops it once
	// the server has drained.
	Cluster Cluster

	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
	// Metrics receives the server's instruments and herald_build_info
	// (default: a new registry, with the Go runtime's and the process's
	// collectors too). A server registers once: give each its own.
	Metrics *prometheus.Registry
	// PrivateMetrics leaves GET /metrics out of the server's routes, for a
	// program that serves [Server.MetricsHandler] on an internal listener.
	PrivateMetrics bool
	// Index serves GET / (the live page); nil serves 404.
	Index http.Handler
	// Version is reported by /healthz.
	Version string
	// GoroutineStreams serves every stream from its own goroutine, as
	// net/http does, even where push streams are possible (plain
	// HTTP/1.1 on Linux). Push streams hold no goroutine or buffer while
	// idle; this switch exists to compare the two.
	GoroutineStreams bool
	// PushWorkers is the number of goroutines writing push streams
	// (default: half the CPUs, at least one). Fewer workers make larger
	// batches per write and leave CPU to publishers and the journal;
	// measured on 2 cores, one worker delivered twice what two did.
	PushWorkers int
	// Clock is the source of time of stream lifecycles: heartbeats, token
	// expiry, maximum lifetime (default: the real clock). Tests drive it.
	Clock clock.Clock
	// AccessLog logs one line per request at info level to Logger, with a
	// request ID that is also sent back as X-Request-ID (the client's own,
	// when it sends a short one of safe characters). Off, it costs nothing.
	AccessLog bool

	// State is the JSON state tree served under DBPrefix (the Firebase
	// Realtime Database REST API and its streams); nil serves none.
	State *state.Store
	// DBPrefix is the URL path of the tree's root (default "/db"). "/"
	// serves it at the server's root, as Firebase clients address it,
	// for URLs ending in .json; Herald's own routes keep theirs.
	DBPrefix string
	// DBAdminToken, when set, is a bearer token that may read and write
	// everything: how the Firebase Admin SDKs authenticate to an emulator
	// (they send "owner").
	DBAdminToken string
	// DBAccess decides who may read and write where (default: the grants
	// of each token's db claim; see rules.Access).
	DBAccess *rules.Access
}

func (c *Config) setDefaults() {
	if c.Heartbeat == 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.RetryHint == 0 {
		c.RetryHint = 3 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PollMaxWait <= 0 {
		c.PollMaxWait = longpoll.DefaultMaxWait
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.MaxSelectors == 0 {
		c.MaxSelectors = 64
	}
	if c.MaxSelectorLength == 0 {
		c.MaxSelectorLength = 2048
	}
	if c.MaxSelectorCost == 0 {
		c.MaxSelectorCost = DefaultMaxSelectorCost
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewRegistry()
	}
	if c.PushWorkers == 0 {
		c.PushWorkers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.DBPrefix == "" {
		c.DBPrefix = DefaultDBPrefix
	}
	if c.DBAccess == nil {
		c.DBAccess = rules.NewAccess(nil)
	}
}

// DefaultMaxSelectorCost is [Config.MaxSelectorCost]'s default: room for
// 64 plain topics or simple templates (cost 1), or a handful of elaborate
// ones (`https://example.com/users/{user}/books/{book}` costs 23,
// `{/path*}{?query*}` 42; a length-capped `{+var:9}` alone 166). Measured,
// one subscription at this budget costs the hub some 8 µs of matching per
// event and 13 KiB of memory (docs/security.md).
const DefaultMaxSelectorCost = 256

// Server is Herald's HTTP surface. It implements http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	cors    *corsPolicy
	metrics *serverMetrics

	push      *push.Pool         // nil when every stream has its own goroutine
	sessions  session.Registry   // the sessions written outside the push pool, for draining
	deadlines *session.Deadlines // every session's token expiry and maximum lifetime
	streams   atomic.Int64       // admitted streams, against MaxConnections
	tokens    tokenCache
	limits    *clientLimiter
	refusals  *boundedLog            // refused requests
	faults    *boundedLog            // lasting faults seen per request (readiness)
	pollers   *pollers               // the presence of pollers
	release   func(*session.Session) // releaseSession, made once for every session
	// releaseSub is releaseSubscription, made once: a WebSocket
	// subscription's release.
	releaseSub func(*session.Session)
	draining   chan struct{} // closed by Drain: streams end so clients reconnect elsewhere
	drainOne   sync.Once

	dbFrames  dbFrameCache // state streams' frames of recent writes
	dbStreams dbStreamSet  // open state streams
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil || cfg.Journal == nil {
		return nil, errors.New("server: Config.Hub and Config.Journal are required")
	}
	cfg.setDefaults()
	cors, err := newCORSPolicy(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		cors:      cors,
		draining:  make(chan struct{}),
		deadlines: session.NewDeadlines(cfg.Clock),
	}
	if push.Supported && !cfg.GoroutineStreams {
		s.push, err = push.NewPool(push.Config{
			Workers: cfg.PushWorkers, Heartbeat: cfg.Heartbeat, WriteTimeout: cfg.WriteTimeout, Clock: cfg.Clock,
		})
		if err != nil {
			return nil, fmt.Errorf("server: push streams: %w", err)
		}
	}
	s.limits = newClientLimiter(cfg.Limits, time.Now)
	s.release, s.releaseSub = s.releaseSession, s.releaseSubscription
	s.pollers = newPollers(s)
	s.refusals, s.faults = newBoundedLog(cfg.Logger), newBoundedLog(cfg.Logger)
	s.metrics = newServerMetrics(cfg.Metrics, s)
	registerBuildInfo(cfg.Metrics, cfg.Version)
	s.mux = s.routes()
	if cfg.State != nil {
		// On a cluster, another node may revoke a token that a stream
		// here holds.
		cfg.State.OnApply(func(ns string, op *tree.Op) {
			if ids := revokedBy(ns, op); len(ids) > 0 {
				s.endRevoked(ids)
			}
		})
	}
	if cfg.Cluster != nil && cfg.SubscriptionEvents {
		if c, ok := cfg.Cluster.(prometheus.Collector); ok {
			cfg.Metrics.MustRegister(c)
		}
		// Other nodes ask for the local subscriptions from now on.
		if err := cfg.Cluster.Serve(s.localSubscriptions, s.announceLocally); err != nil {
			s.Drain()
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AccessLog {
		s.serveLogged(w, r)
		return
	}
	aw := &accessWriter{ResponseWriter: w}
	s.serve(aw, r)
	s.metrics.answered(aw.finalStatus())
}

// serve answers r: every request goes through here.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if len(r.TransferEncoding) > 0 {
		// A request with both Content-Length and a chunked body may be
		// read one way here and another way by a proxy in front, which
		// lets a request hidden in the body run (request smuggling).
		// net/http reads such a request as chunked and deletes the
		// Content-Length before a handler can see it, so every chunked
		// request closes its connection after the answer, as RFC 9112
		// section 6.1 asks of a server that does not reject it: nothing
		// after the body is ever read as a request.
		w.Header().Set("Connection", "close")
	}
	if s.cfg.State != nil && uncleanDBPath(s.cfg.DBPrefix, r.URL.EscapedPath()) {
		// The mux would redirect it to its cleaned form; a tree path
		// with . or .. is an error, as Firebase answers it.
		writeDBError(w, errorf(http.StatusBadRequest, "Invalid path: it must not hold . or .. segments or empty keys."))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Drain makes the server unready and ends every open stream, so that
// clients reconnect (elsewhere, behind a load balancer) and resume from
// their Last-Event-ID. Call it before http.Server.Shutdown, which waits for
// handlers to return (and knows nothing of hijacked push streams); it also
// stops the server's own goroutines, so call it before discarding a server.
func (s *Server) Drain() {
	s.drainOne.Do(func() {
		close(s.draining)
		s.sessions.EndAll(session.ErrDraining)
		s.pollers.stop()
		if s.push != nil {
			s.push.Close(session.ErrDraining)
		}
	})
}

// isDraining reports whether Drain was called.
func (s *Server) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// Streams returns the number of open subscriber streams.
func (s *Server) Streams() int64 { return s.streams.Load() }

// ping checks that the journal can take events; used by /readyz. A
// journal that can tell ([journal.Checker]) is asked whether it can commit
// now; any other only whether it answers, which it may well do from memory
// while every Append fails.
func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, ok := s.cfg.Journal.(journal.Checker); ok {
		return c.Check(ctx)
	}
	_, err := s.cfg.Journal.Last(ctx)
	return err
}

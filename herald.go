package herald

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/presence"
	"github.com/heraldhub/herald/internal/serveopt"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/boltstate"
	"github.com/heraldhub/herald/internal/state/natsstate"
	"github.com/heraldhub/herald/internal/state/rules"
	"github.com/nats-io/nats.go"
)

var (
	// ErrInvalidUpdate reports an update [Hub.Publish] refused for what it
	// holds, as the hub refuses it over HTTP with 400: no topic, a topic,
	// ID or type too long or holding a control character, a reserved ID
	// or topic, a retry out of range, data that is not UTF-8. The error's
	// text names the field and the rule.
	ErrInvalidUpdate = errors.New("herald: invalid update")
	// ErrDuplicateID reports an update whose ID an event the journal keeps
	// already has.
	ErrDuplicateID = errors.New("herald: an event with this ID already exists")
	// ErrClosed reports a publish to a hub that is closing or closed.
	ErrClosed = errors.New("herald: hub closed")
)

// Update is one message to publish.
type Update struct {
	// Topics holds the topics the update is published to: the first is
	// canonical, the rest alternates. At least one is required.
	Topics []string
	// Data is the payload, UTF-8.
	Data []byte
	// ID, if not empty, is the event ID the publisher chooses; otherwise
	// the hub assigns one.
	ID string
	// Type, if not empty, is the SSE event type.
	Type string
	// Retry, if positive, is the reconnection time sent to subscribers
	// with the update (at most 24 hours).
	Retry time.Duration
	// Private restricts the update to subscribers whose tokens grant one
	// of its topics.
	Private bool
}

// Hub is a running Herald hub: an http.Handler serving the Mercure
// protocol and the rest of Herald's HTTP surface, and a publisher. It is
// safe for concurrent use.
type Hub struct {
	srv     *server.Server
	hub     *hub.Hub
	journal journal.Journal
	log     *slog.Logger

	// state is the JSON state tree (nil when turned off); access its
	// rules, read from rulesFile.
	state     *state.Store
	access    *rules.Access
	rulesFile string
	// stopSnapshots stops saving the tree's snapshots on NATS, saving a
	// last one (nil when there are none).
	stopSnapshots func()

	// presence carries the subscriptions API and subscription events
	// across the nodes on NATS; nil on a node alone.
	presence *presence.Node

	stopHub context.CancelFunc
	hubDone chan struct{} // closed when the hub's goroutine returns

	// mu orders admissions against Close: once closing is set, no request
	// or publish enters, so Close can wait for those in flight.
	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

func init() { serveopt.New = newHub }

// New starts a hub configured by cfg: it opens the journal and starts the
// goroutine that delivers events. Call [Hub.Close] to stop it.
func New(cfg Config) (*Hub, error) { return newHub(cfg, serveopt.Options{}) }

func newHub(cfg Config, opts serveopt.Options) (*Hub, error) {
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	sc, err := cfg.serverConfig()
	if err != nil {
		return nil, err
	}
	j, loaded, err := openJournal(cfg)
	if err != nil {
		return nil, err
	}
	h := &Hub{journal: j, log: cfg.Logger, hub: hub.New(j, cfg.hubConfig()), hubDone: make(chan struct{}), rulesFile: cfg.DB.Rules}
	if !cfg.DB.Disabled {
		if err := h.openState(cfg, loaded, &sc); err != nil {
			return nil, errors.Join(err, j.Close())
		}
	}

	// The hub outlives any request's context: it is stopped by Close,
	// after the streams it feeds have been drained.
	ctx, stop := context.WithCancel(context.Background())
	h.stopHub = stop
	runErr := make(chan error, 1)
	go func() {
		defer close(h.hubDone)
		err := h.hub.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		h.log.Error("hub stopped", "err", err)
		runErr <- err
		if opts.Stopped != nil {
			opts.Stopped(err)
		}
	}()
	select {
	case <-h.hub.Started():
	case err := <-runErr:
		stop()
		return nil, errors.Join(fmt.Errorf("herald: starting the hub: %w", err), j.Close())
	}

	sc.Hub, sc.Journal = h.hub, j
	if js, ok := j.(*jetstream.Journal); ok && cfg.SubscriptionEvents {
		h.presence, err = presence.New(presence.Config{Conn: js.Conn(), Subject: presenceSubject(js.Stream()), Logger: cfg.Logger})
		if err != nil {
			stop()
			<-h.hubDone
			return nil, errors.Join(err, h.closeState(), j.Close())
		}
		sc.Cluster = h.presence
	}
	if opts.Server != nil {
		opts.Server(&sc)
	}
	if h.srv, err = server.New(sc); err != nil {
		h.closePresence()
		stop()
		<-h.hubDone
		return nil, errors.Join(err, h.closeState(), j.Close())
	}
	return h, nil
}

// presenceSubject is the prefix of the NATS subjects on which the nodes
// of the stream named stream share their subscribers: of that stream's
// nodes only, and outside the stream's own subjects.
func presenceSubject(stream string) string { return presence.DefaultSubject + "." + stream }

// closePresence says goodbye to the other nodes, if the hub has any.
func (h *Hub) closePresence() {
	if h.presence != nil {
		_ = h.presence.Close()
	}
}

// openJournal opens the journal of cfg and the state tree it keeps.
func openJournal(cfg Config) (journal.Journal, state.Loaded, error) {
	ret := journal.Retention{MaxEvents: cfg.Retention.MaxEvents, MaxAge: cfg.Retention.MaxAge}
	if cfg.NATS.URL != "" {
		j, err := openJetStream(cfg, ret)
		return j, state.Loaded{}, err
	}
	if cfg.Journal == "" {
		j := journal.NewMemory(ret)
		return j, state.Loaded{}, nil
	}
	view := boltstate.View{Limits: cfg.stateLimits()}
	j, err := bolt.Open(cfg.Journal, bolt.Options{Retention: ret, Logger: cfg.Logger, Views: []bolt.View{view}})
	if err != nil {
		return nil, state.Loaded{}, fmt.Errorf("opening journal %s: %w", cfg.Journal, err)
	}
	loaded, err := boltstate.Load(j, view)
	if err != nil {
		return nil, state.Loaded{}, errors.Join(fmt.Errorf("loading the state tree from %s: %w", cfg.Journal, err), j.Close())
	}
	return j, loaded, nil
}

// openJetStream opens the journal on the JetStream stream of cfg.NATS.
func openJetStream(cfg Config, ret journal.Retention) (journal.Journal, error) {
	var opts []nats.Option
	if c := cfg.NATS.Credentials; c != "" {
		opts = append(opts, nats.UserCredentials(c))
	}
	if c := cfg.NATS.TLSCA; c != "" {
		opts = append(opts, nats.RootCAs(c))
	}
	if cert, key := cfg.NATS.TLSCert, cfg.NATS.TLSKey; cert != "" || key != "" {
		opts = append(opts, nats.ClientCert(cert, key))
	}
	ctx, cancel := context.WithTimeout(context.Background(), natsOpenTimeout)
	defer cancel()
	j, err := jetstream.Open(ctx, jetstream.Options{
		URL: cfg.NATS.URL, NATSOptions: opts, Stream: cfg.NATS.Stream, Replicas: cfg.NATS.Replicas,
		Retention: ret, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the JetStream journal on %s: %w", cfg.NATS.URL, err)
	}
	return j, nil
}

// natsOpenTimeout bounds New's wait for NATS: a hub that cannot reach it
// says so rather than hang.
const natsOpenTimeout = 30 * time.Second

// openState starts the state tree on the hub's journal and sets it, its
// access rules and its routes in sc.
func (h *Hub) openState(cfg Config, loaded state.Loaded, sc *server.Config) error {
	access := rules.NewAccess(nil)
	if cfg.DB.Rules != "" {
		rs, err := rules.Load(cfg.DB.Rules)
		if err != nil {
			return fmt.Errorf("herald: DB.Rules: %w", err)
		}
		access.Set(rs)
	}
	var snaps *natsstate.Snapshots
	if js, ok := h.journal.(*jetstream.Journal); ok {
		// On NATS, from the newest snapshot that any node saved.
		ctx, cancel := context.WithTimeout(context.Background(), natsOpenTimeout)
		defer cancel()
		var err error
		snaps, err = natsstate.Open(ctx, natsstate.Config{
			Conn: js.Conn(), Journal: js, Bucket: js.Stream() + "_STATE", Replicas: cfg.NATS.Replicas, Logger: cfg.Logger,
		})
		if err == nil {
			loaded, err = snaps.Load(ctx)
		}
		if err != nil {
			return fmt.Errorf("herald: the state tree's snapshots: %w", err)
		}
		cfg.Logger.Info("state tree: starting from its newest snapshot", "seq", loaded.Seq, "databases", len(loaded.Roots))
	}
	store, err := state.Open(state.Config{Journal: h.journal, Limits: cfg.stateLimits(), Logger: cfg.Logger}, loaded)
	if err != nil {
		return err
	}
	h.state, h.access = store, access
	sc.State, sc.DBAccess = store, access
	if snaps != nil {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		h.stopSnapshots = func() {
			stop()
			<-done
		}
		go func() {
			defer close(done)
			snaps.Keep(ctx, store, cmp.Or(cfg.NATS.SnapshotInterval, 30*time.Second))
		}()
	}
	return nil
}

// closeState stops the state tree, if there is one, saving its snapshot
// on NATS.
func (h *Hub) closeState() error {
	if h.state == nil {
		return nil
	}
	if h.stopSnapshots != nil {
		h.stopSnapshots()
	}
	return h.state.Close()
}

// ReloadRules reads the state tree's rules file (Config.DB.Rules) again
// and puts it in force; the streams it no longer lets read their path end
// with Firebase's cancel event. A file that does not parse changes
// nothing and gives the error. `herald serve` calls it on SIGHUP.
func (h *Hub) ReloadRules() error {
	if h.access == nil || h.rulesFile == "" {
		return errors.New("herald: no rules file to reload (Config.DB.Rules)")
	}
	rs, err := rules.Load(h.rulesFile)
	if err != nil {
		return err
	}
	h.access.Set(rs)
	h.srv.RecheckStreams()
	return nil
}

// enter admits a request or a publish unless the hub is closing; a caller
// admitted calls h.inflight.Done when it is through.
func (h *Hub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.inflight.Add(1)
	return true
}

// ServeHTTP serves the hub's HTTP surface at the paths a Mercure hub has,
// whatever the path it is mounted at on a mux:
//
//   - /.well-known/mercure: subscribe (SSE, long polling, WebSocket) and
//     publish;
//   - /.well-known/mercure/subscriptions...: the subscriptions API, with
//     [Config.SubscriptionEvents];
//   - /.well-known/mercure/cookie: a bearer token traded for an HttpOnly
//     cookie, for the browsers of [Config.CORSOrigins];
//   - /healthz, /readyz and /metrics;
//   - /db/... (Config.DB.Prefix): the state tree, unless Config.DB.Disabled,
//     and /.well-known/herald/revoke with Config.DB.AdminToken.
//
// Mount the routes wanted, each as it is (see the package documentation),
// or the whole hub under a prefix with [http.StripPrefix]. Other paths
// answer 404. Once [Hub.Close] was called, every request is answered 503
// with a Retry-After.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		// As the server answers a stream while it drains: come back soon,
		// to another node or to this one restarted.
		w.Header().Set("Retry-After", "1")
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.inflight.Done()
	h.srv.ServeHTTP(w, r)
}

// Publish publishes u straight into the hub, with no HTTP request and no
// token, and returns the event's ID once the journal holds it. The update
// must obey the rules it would obey over HTTP; one that does not gives an
// error wrapping [ErrInvalidUpdate]. An ID already taken gives
// [ErrDuplicateID], a closed hub [ErrClosed]; any other error is the
// journal's.
func (h *Hub) Publish(ctx context.Context, u Update) (id string, err error) {
	if !h.enter() {
		return "", ErrClosed
	}
	defer h.inflight.Done()
	ev := &journal.Event{
		Topics: slices.Clone(u.Topics),
		Data:   slices.Clone(u.Data),
		ID:     u.ID, Type: u.Type, Retry: u.Retry, Private: u.Private,
	}
	if err := h.srv.Publish(ctx, ev); err != nil {
		return "", publishError(err)
	}
	return ev.ID, nil
}

// publishError is what a publisher sees of err: the package's errors, and
// no internal type.
func publishError(err error) error {
	if invalid, ok := errors.AsType[*journal.EventError](err); ok {
		return fmt.Errorf("%w: %s: %s", ErrInvalidUpdate, invalid.Field, invalid.Reason)
	}
	switch {
	case errors.Is(err, journal.ErrDuplicateID):
		return ErrDuplicateID
	case errors.Is(err, journal.ErrInvalidEvent):
		return ErrInvalidUpdate
	}
	return fmt.Errorf("herald: publishing: %w", err)
}

// Close stops the hub, in this order: it refuses new requests and
// publishes (503, [ErrClosed]), ends every open stream so that its client
// reconnects — elsewhere, behind a load balancer — and resumes from its
// last event ID, waits for the requests and publishes in flight to finish
// or for ctx to end, then stops delivering and closes the journal, which
// flushes it.
//
// Call Close before [http.Server.Shutdown]: Shutdown waits for handlers to
// return, and a stream's returns only once Close has ended it. Close
// returns ctx's error if requests were still running when ctx ended, and
// the journal's if it failed to close. Calling it again returns the same.
func (h *Hub) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closing = true
		h.mu.Unlock()
		h.log.Info("shutting down", "streams", h.srv.Streams())
		h.srv.Drain()

		requestsDone := make(chan struct{})
		go func() {
			h.inflight.Wait()
			close(requestsDone)
		}()
		var waitErr error
		select {
		case <-requestsDone:
		case <-ctx.Done():
			waitErr = fmt.Errorf("herald: requests still running: %w", ctx.Err())
		}
		// The other nodes hear of the subscribers that went, then of
		// this node's goodbye, while the connection is there.
		h.closePresence()
		// Nothing uses the hub any more (or time is up): stop it, then
		// the journal it follows.
		h.stopHub()
		<-h.hubDone
		// The state tree's queued writes complete before the journal
		// they wait for closes.
		_ = h.closeState()
		var closeErr error
		if err := h.journal.Close(); err != nil {
			closeErr = fmt.Errorf("herald: closing the journal: %w", err)
		}
		h.closeErr = errors.Join(waitErr, closeErr)
	})
	return h.closeErr
}

package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/internal/serveopt"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/web"
)

// serveConfig is what `herald serve` is told by flags and environment.
type serveConfig struct {
	addr              string
	data              string
	journal           string
	publisherKey      string
	subscriberKey     string
	anonymous         bool
	corsOrigins       stringList
	heartbeat         time.Duration
	retry             time.Duration
	writeTimeout      time.Duration
	maxLifetime       time.Duration
	pollMaxWait       time.Duration
	maxConnections    int
	maxBody           int64
	queueBytes        int
	maxSelectorCost   int
	limits            server.Limits
	subscriptions     bool
	retentionEvents   int
	retentionAge      time.Duration
	tlsCert, tlsKey   string
	tlsSelfSigned     bool
	logLevel          string
	logFormat         string
	shutdownTimeout   time.Duration
	debugAddr         string
	metricsAddr       string
	goroutineStreams  bool
	pushWorkers       int
	readHeaderTimeout time.Duration
	accessLog         bool
	configFile        string
	printConfig       bool
	db                herald.DB
	dbOn              bool
	nats              herald.NATS
}

func serveFlags(env *Env) (*serveConfig, *flag.FlagSet) {
	c := &serveConfig{corsOrigins: stringList{split: true}}
	fs := newFlagSet(env, "serve", "serve [flags]")
	fs.StringVar(&c.addr, "addr", ":8080", "address to listen on (host:port)")
	fs.StringVar(&c.data, "data", "herald.db", "bbolt journal file (created if missing); the generated key is kept beside it")
	fs.StringVar(&c.journal, "journal", "bolt", "journal backend: bolt (durable, the --data file) or memory (lost on exit)")
	fs.StringVar(&c.publisherKey, "publisher-key", "", "key verifying publishers' JWTs: an HMAC secret, PEM text, or file:PATH of a PEM public key (RSA, EC, Ed25519) or secret file; empty: generate one and keep it beside --data")
	fs.StringVar(&c.subscriberKey, "subscriber-key", "", "key verifying subscribers' JWTs (same forms as --publisher-key); empty: the publisher key")
	fs.BoolVar(&c.anonymous, "anonymous", false, "let subscribers without a token receive public events")
	fs.Var(&c.corsOrigins, "cors-origins", "comma-separated origins allowed to subscribe and publish from browsers (scheme://host[:port]); * allows any origin without credentials")
	fs.DurationVar(&c.heartbeat, "heartbeat", 15*time.Second, "interval of keep-alive comments on streams (0 disables)")
	fs.DurationVar(&c.retry, "retry", 3*time.Second, "reconnection time hinted to clients with retry: (0 disables)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 10*time.Second, "deadline of each write to a subscriber; a stalled stream is closed")
	fs.DurationVar(&c.maxLifetime, "max-lifetime", 0, "end streams after this long (±10% jitter) so clients rebalance (0: never)")
	fs.DurationVar(&c.pollMaxWait, "poll-max-wait", 30*time.Second, "the longest a long poll is held when no event is due")
	fs.IntVar(&c.maxConnections, "max-connections", 0, "most concurrent subscriber streams; more get 503 (0: no limit)")
	fs.Int64Var(&c.maxBody, "max-body", 1<<20, "largest publish request body, in bytes")
	fs.IntVar(&c.maxSelectorCost, "max-selector-cost", server.DefaultMaxSelectorCost, "most total cost of one subscription's topic selectors (compiled matcher instructions; 1 per plain topic or simple template); more is refused with 400")
	fs.Float64Var(&c.limits.ConnectRate, "connect-rate", 1000, "streams per second one client address may open (bursts: --connect-burst); more get 429 (0: no limit)")
	fs.IntVar(&c.limits.ConnectBurst, "connect-burst", 2000, "burst of --connect-rate")
	fs.IntVar(&c.limits.StreamsPerAddress, "max-streams-per-address", 4096, "open streams one client address may hold; more get 429 (0: no limit)")
	fs.IntVar(&c.limits.StreamsPerSubject, "max-streams-per-subject", 4096, "open streams one token subject (sub claim) may hold; more get 429 (0: no limit)")
	fs.IntVar(&c.limits.SelectorCostPerAddress, "max-selector-cost-per-address", 64*server.DefaultMaxSelectorCost, "total selector cost of one client address's open streams (see --max-selector-cost); more get 429 (0: no limit)")
	fs.Float64Var(&c.limits.PublishRate, "publish-rate", 20000, "events per second one token may publish (bursts: --publish-burst); more get 429 (0: no limit)")
	fs.IntVar(&c.limits.PublishBurst, "publish-burst", 40000, "burst of --publish-rate")
	fs.StringVar(&c.limits.ClientAddressHeader, "client-address-header", "", "header a trusted reverse proxy puts the client's address in (e.g. X-Forwarded-For; its last address counts); empty: the connection's address")
	fs.IntVar(&c.queueBytes, "queue-bytes", 0, "per-subscriber queue bound in bytes; a subscriber that falls further behind is disconnected and resumes (0: the hub's default)")
	fs.BoolVar(&c.subscriptions, "subscriptions", false, "publish Mercure subscription events and enable the subscriptions API")
	fs.IntVar(&c.retentionEvents, "retention-events", 0, "most events kept in the journal (0: no limit)")
	fs.DurationVar(&c.retentionAge, "retention-age", 0, "how long events are kept in the journal (0: forever)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS and HTTP/2")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&c.tlsSelfSigned, "tls-self-signed", false, "serve HTTPS and HTTP/2 with a generated self-signed certificate for localhost (for trying it out)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&c.accessLog, "access-log", false, "log one line per request (method, path, status, bytes, duration, remote, request ID) at info level; the request ID is sent back as X-Request-ID")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for streams and requests to end")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read a request's headers")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this separate address, e.g. 127.0.0.1:6060 (empty: off)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this separate, internal address instead of the public one, e.g. 127.0.0.1:9090 (the same as --debug-addr: one listener serves both)")
	fs.IntVar(&c.pushWorkers, "push-workers", 0, "goroutines writing push streams (0: half the CPUs, at least one)")
	fs.BoolVar(&c.goroutineStreams, "goroutine-streams", false, "write every stream from its own goroutine (net/http's way) instead of push streams; for comparison")
	fs.BoolVar(&c.dbOn, "db", true, "serve the JSON state tree (the Firebase Realtime Database REST API and its streams)")
	fs.StringVar(&c.db.Prefix, "db-prefix", server.DefaultDBPrefix, "URL path of the state tree; / serves it at the root for URLs ending in .json, as Firebase clients expect")
	fs.StringVar(&c.db.AdminToken, "db-admin-token", "", "bearer token that may read and write the whole state tree and revoke tokens (the Firebase Admin SDKs send \"owner\" to an emulator); empty: none")
	fs.StringVar(&c.db.Rules, "db-rules", "", "Firebase-style security rules file for the state tree (.read/.write, $variables, CEL conditions); reloaded on SIGHUP; empty: each token's db claim grants paths")
	fs.Float64Var(&c.db.Rate, "db-rate", 0, "state tree requests per second one caller (token subject, or address) may make; more get 429 (0: no limit)")
	fs.IntVar(&c.db.Burst, "db-burst", 0, "burst of --db-rate (0: twice the rate)")
	fs.IntVar(&c.db.MaxWriteBytes, "db-max-write", 16<<20, "largest state tree write body, in bytes")
	fs.StringVar(&c.nats.URL, "nats", "", "NATS servers (nats://host:4222, comma-separated): keep the events in a JetStream stream that every herald serve given the same --nats and --nats-stream shares, instead of --data")
	fs.StringVar(&c.nats.Stream, "nats-stream", "HERALD", "JetStream stream of the events (created if missing)")
	fs.IntVar(&c.nats.Replicas, "nats-replicas", 0, "servers that store each event (0: the stream's, or 1 for a new stream)")
	fs.StringVar(&c.nats.Credentials, "nats-creds", "", "NATS credentials file (user JWT and seed)")
	fs.StringVar(&c.nats.TLSCA, "nats-tls-ca", "", "PEM file of the CA that NATS servers' certificates are checked against")
	fs.StringVar(&c.nats.TLSCert, "nats-tls-cert", "", "PEM file of this client's certificate, for NATS servers that ask for one")
	fs.StringVar(&c.nats.TLSKey, "nats-tls-key", "", "PEM file of the key of --nats-tls-cert")
	fs.DurationVar(&c.nats.SnapshotInterval, "nats-snapshot-interval", 30*time.Second, "how often a node saves the state tree in the object store <stream>_STATE while it changes (and when it stops)")
	configFlags(fs, &c.configFile, &c.printConfig)
	return c, fs
}

func serve(env *Env, args []string) error {
	c, fs := serveFlags(env)
	src, err := parseServeFlags(env, fs, args)
	if err != nil {
		return err
	}
	if c.printConfig {
		return printConfig(env.stdout, fs, src)
	}
	log, err := newLogger(env, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}

	journalFile, err := journalPath(c)
	if err != nil {
		return err
	}
	// Listening comes first: a port in use is said before anything is
	// written to the data directory.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close() // for the early returns; Serve owns it after
	keys, err := loadServeKeys(c)
	if err != nil {
		return err
	}

	// The hub is built as any program embeds it; what is the command's
	// own (its keys as loaded, the live page, push-stream tuning, the
	// per-client limits its flags fill in) goes through serveopt.
	hubStopped := make(chan error, 1)
	metrics := server.NewRegistry()
	h, err := newHub(herald.Config{
		Journal:     journalFile,
		Retention:   herald.Retention{MaxEvents: c.retentionEvents, MaxAge: c.retentionAge},
		Anonymous:   c.anonymous,
		CORSOrigins: c.corsOrigins.values,
		Heartbeat:   disableIfZero(c.heartbeat),
		Limits: herald.Limits{
			MaxConnections: c.maxConnections, MaxLifetime: c.maxLifetime,
			QueueBytes: c.queueBytes, MaxBodyBytes: c.maxBody,
		},
		SubscriptionEvents: c.subscriptions,
		DB:                 c.dbConfig(),
		NATS:               c.nats,
		Logger:             log,
	}, serveopt.Options{
		Server: func(sc *server.Config) {
			sc.PublisherKey, sc.SubscriberKey = &keys.publisher, &keys.subscriber
			sc.RetryHint = disableIfZero(c.retry)
			sc.WriteTimeout, sc.PollMaxWait = c.writeTimeout, c.pollMaxWait
			sc.MaxSelectorCost = c.maxSelectorCost
			sc.Limits = noLimitIfZero(c.limits)
			sc.Index, sc.Version = web.Handler(), version()
			sc.GoroutineStreams, sc.PushWorkers = c.goroutineStreams, c.pushWorkers
			sc.Metrics, sc.PrivateMetrics = metrics, c.metricsAddr != ""
			sc.AccessLog = c.accessLog
		},
		Stopped: func(err error) { hubStopped <- err },
	})
	if err != nil {
		return err
	}
	// Close is idempotent: this one is for the early returns, and reports
	// an error of the graceful stop below.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			log.Error("closing the hub", "err", err)
		}
	}()

	httpSrv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// No WriteTimeout: streams set a deadline per write instead.
	}
	scheme := "http"
	if tlsConf, err := tlsConfig(c); err != nil {
		return err
	} else if tlsConf != nil {
		httpSrv.TLSConfig = tlsConf
		scheme = "https"
	}

	base := scheme + "://" + displayAddr(ln.Addr())
	if journalFile != "" {
		log.Info("herald listening", "url", base, "journal", c.journal, "data", journalFile, "version", version())
	} else {
		log.Info("herald listening", "url", base, "journal", c.journal, "version", version())
	}
	printWelcome(env, base, keys, c.tlsSelfSigned)

	if c.debugAddr != "" || c.metricsAddr != "" {
		stopDebug, err := serveDebug(c.debugAddr, c.metricsAddr, promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}), log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	serveDone := make(chan error, 1)
	go func() {
		if httpSrv.TLSConfig != nil {
			serveDone <- httpSrv.ServeTLS(ln, "", "") // HTTP/2 negotiated by ALPN
			return
		}
		serveDone <- httpSrv.Serve(ln)
	}()

	// SIGHUP reloads the state tree's rules.
	hup := make(chan os.Signal, 1)
	if c.db.Rules != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
wait:
	for {
		select {
		case err := <-serveDone:
			return err
		case err := <-hubStopped:
			_ = httpSrv.Close()
			return fmt.Errorf("hub stopped: %w", err)
		case <-hup:
			if err := h.ReloadRules(); err != nil {
				log.Error("reloading the state tree's rules; the rules in force stay", "file", c.db.Rules, "err", err)
			} else {
				log.Info("state tree rules reloaded", "file", c.db.Rules)
			}
		case <-env.ctx.Done():
			break wait
		}
	}

	// Graceful stop, in this order: the hub becomes unready, refuses new
	// streams and ends the open ones (clients reconnect elsewhere and
	// resume from their Last-Event-ID), waits for requests in flight, and
	// only then stops delivering and closes the journal; the HTTP server
	// then closes its listener and idle connections.
	sctx, scancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer scancel()
	_ = h.Close(sctx) // its error is the deferred Close's to log
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing connections", "err", err)
		_ = httpSrv.Close()
	}
	log.Info("stopped")
	return nil
}

// noLimitIfZero turns the flags' 0 ("no limit", as for --max-connections)
// into the server's negative; its zero means the default.
func noLimitIfZero(l server.Limits) server.Limits {
	for _, v := range []*int{&l.ConnectBurst, &l.StreamsPerAddress, &l.StreamsPerSubject, &l.SelectorCostPerAddress, &l.PublishBurst} {
		if *v == 0 {
			*v = -1
		}
	}
	for _, v := range []*float64{&l.ConnectRate, &l.PublishRate} {
		if *v == 0 {
			*v = -1
		}
	}
	return l
}

func disableIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// journalPath is the herald.Config.Journal of --journal and --data: the
// bbolt file, or empty for memory.
func journalPath(c *serveConfig) (string, error) {
	if c.nats.URL != "" {
		if c.publisherKey == "" {
			// Each node would generate its own, and a token from one would
			// not verify on the others.
			return "", usageError{"--nats needs --publisher-key (and --subscriber-key, if used): the nodes of a cluster must share their keys"}
		}
		c.journal = "jetstream"
		return "", nil
	}
	switch c.journal {
	case "memory":
		return "", nil
	case "bolt", "":
		return c.data, nil
	}
	return "", usageError{fmt.Sprintf("unknown --journal %q (want bolt or memory)", c.journal)}
}

func newLogger(env *Env, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(env.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.stderr, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
}

// displayAddr turns a listener address into one a person can paste:
// an unspecified host becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// keyFile is where a generated key is kept: beside the data file.
func keyFile(data string) string {
	return filepath.Join(filepath.Dir(data), "herald.key")
}

// newHub is herald.New with the options that are the command's own.
var newHub = serveopt.New.(func(herald.Config, serveopt.Options) (*herald.Hub, error))

// dbConfig is the state tree's configuration.
func (c *serveConfig) dbConfig() herald.DB {
	db := c.db
	db.Disabled = !c.dbOn
	return db
}

package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Exit codes of Command.
const (
	// ExitOK means the run completed and every check held.
	ExitOK = 0
	// ExitError means the run could not be completed.
	ExitError = 1
	// ExitUsage means the command line was wrong.
	ExitUsage = 2
	// ExitInexact means the run completed but found problems: events lost,
	// duplicated or replayed out of order, subscribers that could not
	// connect or were dropped, publishes that failed. The report lists them.
	ExitInexact = 3
)

// defaultTimeout bounds a run unless --timeout says otherwise.
const defaultTimeout = 10 * time.Minute

// DefaultHub is the hub URL used when --hub is not given.
const DefaultHub = "http://127.0.0.1:8080/.well-known/mercure"

// scenarios maps each scenario name to what it does, for --help.
var scenarios = []struct{ name, doc string }{
	{"idle", "hold -n subscribers (SSE streams, WebSockets or long pollers); server memory per connection and connect rate"},
	{"fanout", "-n subscribers on one topic, one publisher at --rate (or each of --rates); delivery latency, loss, duplicates (and polls/s and poll round trips for pollers)"},
	{"publish", "-c publishers as fast as the hub accepts for --duration (HTTP POSTs, or WebSockets pipelining --window publishes); publishes/s and latency"},
	{"resume", "an SSE subscriber misses -k events and resumes with Last-Event-ID; replay time and exactness"},
	{"soak", "a fanout held for --duration (default 10m): the hub's RSS, goroutines, open files and streams every --sample-every, and whether they grow"},
	{"db-write", "state tree: -c writers each PUT a small leaf, one write after another, for --duration; writes/s and latency"},
	{"db-fanout", "state tree: -n streams watch one location, one writer changes it at --rate (or each of --rates); write-to-event latency, loss, duplicates"},
	{"db-spread", "state tree: -n streams each watch a location of their own, -c writers change them at --rate in all; latency, loss, duplicates"},
	{"db-snapshot", "state tree: a tree of --nodes nodes read -n times by GET and by a stream's first put, then by -c of each at once; time, exactness, the hub's RSS growth (with --pid)"},
	{"db-resume", "state tree: a stream misses -k changes and resumes with Last-Event-ID; changes only (no put of the whole location), exactness, time"},
}

// Bounds on what one run may ask for: beyond them a typo would exhaust
// the machine's memory or ports rather than measure anything.
const (
	maxSubscribers = 500_000
	maxEvents      = 10_000_000
)

// config is one run's command line.
type config struct {
	scenario           string
	transport          transport
	window             int
	hubs               []string // --hub: one hub, or the nodes of a cluster
	pids               []int    // --pid: one per hub, or none
	resumeHub          string
	token, key         string
	subscribers        int
	rate               float64
	rates              []float64
	duration           time.Duration
	timeout            time.Duration
	concurrency        int
	events             int
	size               int
	topic              string
	selector           string
	attackers          int
	attackerCost       int
	churn              float64
	churnSelectors     int
	procs              int
	sources            string
	connectConcurrency int
	connectTimeout     time.Duration
	goroutines         bool
	metrics            string
	json               bool
	svg                string
	quiet              bool
	knee               time.Duration
	sampleEvery        time.Duration
	settle             time.Duration
	drain              time.Duration
	insecure           bool
	db                 string
	path               string
	nodes              int
}

func newFlagSet(cfg *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("herald bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.hubs = []string{DefaultHub}
	fs.Func("hub", "hub URL, on this machine (loopback); or the URLs of several nodes of one cluster, comma-separated, "+
		"over which idle and fanout spread their subscribers and publish and resume their publishers (default "+DefaultHub+")", func(s string) error {
		hubs, err := parseList(s)
		cfg.hubs = hubs
		return err
	})
	fs.StringVar(&cfg.resumeHub, "resume-hub", "", "resume: the hub the subscriber resumes on, such as another node of the cluster that --hub publishes to (default: the first --hub)")
	cfg.transport = transportSSE
	fs.Func("transport", `how subscribers receive events: "sse" (default), "ws" (a WebSocket each, subprotocol herald.v1) or "poll" (long polling); publish: "sse" posts over HTTP, "ws" pipelines over -c WebSockets`, func(s string) error {
		tr, err := parseTransport(s)
		cfg.transport = tr
		return err
	})
	fs.IntVar(&cfg.window, "window", 64, "publish --transport ws: publishes each socket sends before it waits for their acks")
	fs.StringVar(&cfg.token, "token", "", "JWT sent to the hub as Bearer token")
	fs.StringVar(&cfg.key, "key", "", "HS256 secret to mint a publish+subscribe JWT with, instead of --token")
	fs.IntVar(&cfg.subscribers, "n", 0, "subscribers (default: idle 1000, fanout 100)")
	fs.Float64Var(&cfg.rate, "rate", 100, "fanout: events published per second")
	fs.Func("rates", "fanout: comma-separated rates to sweep, e.g. 10,20,40,80", func(s string) error {
		rates, err := parseRates(s)
		cfg.rates = rates
		return err
	})
	fs.DurationVar(&cfg.duration, "duration", 0, "fanout/publish: length of each measurement; idle: how long to hold (default 10s, idle 5s)")
	fs.DurationVar(&cfg.timeout, "timeout", defaultTimeout, "bound on the whole run (soak: --duration more)")
	fs.IntVar(&cfg.concurrency, "c", 16, "publish/resume: concurrent publishers")
	fs.IntVar(&cfg.events, "k", 100000, "resume: events published while the subscriber is away")
	fs.IntVar(&cfg.size, "size", 0, "minimum payload size in bytes (padded)")
	fs.StringVar(&cfg.topic, "topic", "", "topic to use (default: a fresh one per run)")
	fs.IntVar(&cfg.attackers, "attackers", 0, "fanout: anonymous streams held open beside the subscribers, each asking for templates no event matches, as costly together as --attacker-cost allows (the costliest subscription a client can make)")
	fs.IntVar(&cfg.attackerCost, "attacker-cost", 256, "fanout: selector cost of each --attackers stream (the hub's --max-selector-cost, 256 by default)")
	fs.Float64Var(&cfg.churn, "churn", 0, "fanout: anonymous subscriptions opened and closed per second during the measured steps, each with --churn-selectors selectors")
	fs.IntVar(&cfg.churnSelectors, "churn-selectors", 64, "fanout: topic selectors of each --churn subscription")
	fs.StringVar(&cfg.selector, "selector", "", "idle/fanout: topic selector the subscribers ask for, such as a URI template matching --topic (default: the topic itself)")
	fs.IntVar(&cfg.procs, "procs", 0, "child processes to hold subscribers (default: as many as the open-file limit needs)")
	fs.StringVar(&cfg.sources, "sources", "auto", `client source addresses: "auto" (127.0.0.2-9 for an IPv4 loopback hub), "none", or a comma-separated list`)
	fs.IntVar(&cfg.connectConcurrency, "connect-concurrency", 256, "subscribers connecting at once, over all processes")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 30*time.Second, "bound on one request: a subscribe up to its response headers, or a publish")
	fs.Func("reader", `how SSE subscribers are read: "epoll" (default on Linux: a goroutine per processor polls every socket) or "goroutines" (one per stream)`, func(s string) error {
		switch s {
		case "epoll":
			cfg.goroutines = false
		case "goroutines":
			cfg.goroutines = true
		default:
			return fmt.Errorf("unknown reader %q: want epoll or goroutines", s)
		}
		return nil
	})
	fs.Func("pid", "hub process ID, to read its memory and CPU from /proc; with several --hub, one per hub, comma-separated, in the same order", func(s string) error {
		pids, err := parsePIDs(s)
		cfg.pids = pids
		return err
	})
	fs.StringVar(&cfg.metrics, "metrics", "auto", `hub's Prometheus metrics URL: "auto" (the hub's origin + /metrics; none with several --hub), "none", or a URL`)
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&cfg.svg, "svg", "", "also write an SVG chart to this file")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress lines on stderr")
	fs.DurationVar(&cfg.sampleEvery, "sample-every", 10*time.Second, "soak: how often to sample the hub")
	fs.DurationVar(&cfg.knee, "knee", 100*time.Millisecond, "fanout sweep: the p99 latency that marks the knee")
	fs.DurationVar(&cfg.settle, "settle", 10*time.Second, "idle: longest wait for the hub's memory to settle")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "fanout: longest wait for deliveries after the last publish; resume: longest silence before the replay counts as over")
	fs.BoolVar(&cfg.insecure, "insecure", false, "https hub: do not verify its certificate")
	fs.StringVar(&cfg.db, "db", "auto", `db-*: the state tree's URL: "auto" (the hub's origin + /db) or a URL`)
	fs.StringVar(&cfg.path, "path", "", "db-*: the tree location the run works under (default: a fresh one per run, /bench/<scenario>/<run>)")
	fs.IntVar(&cfg.nodes, "nodes", 100_000, "db-snapshot: nodes (objects and leaves) of the tree read")
	fs.Usage = func() {}
	return fs
}

func parseRates(s string) ([]float64, error) {
	var rates []float64
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: herald bench <scenario> [flags]")
	fmt.Fprintln(w, "\nLoad-tests a Mercure-protocol hub (Herald or Mercure) running on this machine,")
	fmt.Fprintln(w, "or (db-*) Herald's state tree through its Firebase-compatible REST API and streams.")
	fmt.Fprintln(w, "\nscenarios:")
	for _, s := range scenarios {
		fmt.Fprintf(w, "  %-11s %s\n", s.name, s.doc)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nexit status: %d ok; %d error; %d usage; %d problems found (lost, duplicated or out-of-order\n"+
		"events, failed connections or publishes), listed in the report\n", ExitOK, ExitError, ExitUsage, ExitInexact)
}

// parseArgs reads a command line; flags may come before or after the
// scenario name.
func parseArgs(args []string, stdout, stderr io.Writer) (config, int, bool) {
	var cfg config
	fs := newFlagSet(&cfg, stderr)
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		cfg.scenario = fs.Arg(0)
		err = fs.Parse(fs.Args()[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout, fs)
		return cfg, ExitOK, false
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil {
		err = cfg.check()
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		fmt.Fprintln(stderr, "run 'herald bench --help' for scenarios and flags")
		return cfg, ExitUsage, false
	}
	return cfg, ExitOK, true
}

// check validates cfg and fills in the scenario defaults.
func (cfg *config) check() error {
	switch cfg.scenario {
	case "":
		return errors.New("no scenario given")
	case "idle":
		cfg.subscribers = cmp0(cfg.subscribers, 1000)
		cfg.duration = cmp0(cfg.duration, 5*time.Second)
	case "fanout":
		if err := cfg.checkFanout(); err != nil {
			return err
		}
	case "soak":
		cfg.subscribers = cmp0(cfg.subscribers, 1000)
		cfg.duration = cmp0(cfg.duration, 10*time.Minute)
		if cfg.rate <= 0 || len(cfg.rates) > 0 {
			return errors.New("soak: one --rate, positive")
		}
		cfg.rates = []float64{cfg.rate}
		if cfg.sampleEvery <= 0 {
			return errors.New("--sample-every must be positive")
		}
		// The default bound on a run (10 minutes) is that of a short one.
		if cfg.timeout == defaultTimeout {
			cfg.timeout = cfg.duration + defaultTimeout
		}
	case "publish":
		cfg.duration = cmp0(cfg.duration, 10*time.Second)
		if cfg.transport == transportPoll {
			return errors.New("publish --transport poll: a poller cannot publish; use sse (HTTP) or ws")
		}
	case "resume":
		if cfg.events < 1 {
			return errors.New("-k must be at least 1")
		}
		if cfg.transport != transportSSE {
			return errors.New("resume measures SSE only: leave out --transport")
		}
	case "db-write", "db-fanout", "db-spread", "db-snapshot", "db-resume":
		if err := cfg.checkDB(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown scenario %q", cfg.scenario)
	}
	switch {
	case cfg.subscribers < 0 || cfg.procs < 0 || cfg.size < 0:
		return errors.New("-n, --procs and --size cannot be negative")
	case cfg.concurrency < 1 || cfg.connectConcurrency < 1 || cfg.window < 1:
		return errors.New("-c, --connect-concurrency and --window must be at least 1")
	case cfg.duration < 0 || cfg.timeout <= 0 || cfg.connectTimeout <= 0:
		return errors.New("--duration, --timeout and --connect-timeout must be positive")
	case cfg.token != "" && cfg.key != "":
		return errors.New("give --token or --key, not both")
	case cfg.size > 1<<20:
		return errors.New("--size is at most 1 MiB")
	case cfg.subscribers > maxSubscribers || cfg.events > maxEvents:
		return fmt.Errorf("-n is at most %d and -k at most %d", maxSubscribers, maxEvents)
	}
	return cfg.checkNodes()
}

// checkDB validates the flags of a state tree scenario and fills in its
// defaults.
func (cfg *config) checkDB() error {
	switch {
	case cfg.transport != transportSSE:
		return fmt.Errorf("%s streams over SSE (Firebase REST streaming): leave out --transport", cfg.scenario)
	case cfg.attackers > 0 || cfg.churn > 0 || cfg.selector != "" || cfg.topic != "":
		return fmt.Errorf("%s: --attackers, --churn, --selector and --topic are the Mercure scenarios'", cfg.scenario)
	case cfg.path != "" && (!strings.HasPrefix(cfg.path, "/") || strings.Trim(cfg.path, "/") == ""):
		return errors.New("--path must name a location below the root, such as /bench")
	}
	switch cfg.scenario {
	case "db-write":
		cfg.duration = cmp0(cfg.duration, 10*time.Second)
	case "db-fanout", "db-spread":
		if err := cfg.checkFanout(); err != nil {
			return err
		}
	case "db-snapshot":
		cfg.subscribers = cmp0(cfg.subscribers, 5)
		if cfg.nodes < 101 || cfg.nodes > maxEvents {
			return fmt.Errorf("--nodes must be between 101 and %d", maxEvents)
		}
	case "db-resume":
		if cfg.events < 1 {
			return errors.New("-k must be at least 1")
		}
	}
	return nil
}

// checkFanout fills in the defaults of a paced fan-out (Mercure's or the
// state tree's): 100 subscribers for 10 s, at --rates or --rate.
func (cfg *config) checkFanout() error {
	cfg.subscribers = cmp0(cfg.subscribers, 100)
	cfg.duration = cmp0(cfg.duration, 10*time.Second)
	if len(cfg.rates) == 0 {
		if cfg.rate <= 0 {
			return errors.New("--rate must be positive")
		}
		cfg.rates = []float64{cfg.rate}
	}
	return nil
}

func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Command runs `herald bench`; args are the arguments after "bench". It
// prints the report on stdout, progress and errors on stderr, and returns
// the process exit code (ExitOK, ExitError, ExitUsage or ExitInexact).
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	limit, err := raiseFileLimit()
	if err != nil {
		fmt.Fprintf(stderr, "herald bench: open-file limit: %v\n", err)
	}
	if len(args) > 0 && args[0] == childFlag {
		if err := runChild(ctx, os.Stdin, stdout); err != nil {
			// A stopped run is the parent's to explain.
			if !errors.Is(err, errParentGone) && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "herald bench child: %v\n", err)
			}
			return ExitError
		}
		return ExitOK
	}
	// Child processes and progress lines share stderr.
	stderr = &lockedWriter{w: stderr}
	cfg, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	r, err := newRunner(ctx, cfg, limit, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		return ExitError
	}
	rep, err := r.run(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("%w (the run exceeded --timeout %s)", err, cfg.timeout)
		}
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		return ExitError
	}
	if err := writeReport(stdout, rep, cfg.json); err != nil {
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		return ExitError
	}
	if cfg.svg != "" {
		if err := writeSVGFile(cfg.svg, rep); err != nil {
			fmt.Fprintf(stderr, "herald bench: %v\n", err)
			return ExitError
		}
	}
	if len(rep.Problems) > 0 {
		return ExitInexact
	}
	return ExitOK
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// newRunID returns a random identifier for the run's topic.
func newRunID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The state tree scenarios work under a location of their own,
// /bench/<scenario>/<run> unless --path says otherwise, so that runs
// never see each other's writes:
//
//	db-write     <base>/writers/w<i>      a leaf per writer, overwritten
//	db-fanout    <base>/device            watched; the writer puts device/v
//	db-spread    <base>/devices/d<i>      one watched per stream; writes put d<i>/v
//	db-snapshot  <base>/tree              the tree read
//	db-resume    <base>/log               watched; each change a new leaf c<seq>

// isDB reports whether scenario is one of the state tree's.
func isDB(scenario string) bool { return strings.HasPrefix(scenario, "db-") }

// newDBTarget resolves --db (by default the hub's origin + /db) to a
// loopback target, and returns it with the escaped location the run
// works under.
func newDBTarget(ctx context.Context, cfg config, hub *url.URL, sources string) (*target, string, error) {
	raw := cfg.db
	if raw == "auto" {
		raw = (&url.URL{Scheme: hub.Scheme, Host: hub.Host, Path: "/db"}).String()
	}
	u, addr, err := resolveLoopback(ctx, systemLookup, raw)
	if err != nil {
		return nil, "", fmt.Errorf("--db: %w", err)
	}
	t, err := newTarget(targetSpec{Hub: u.String(), Addr: addr.String(), Sources: chooseSources(sources, addr), Insecure: cfg.insecure})
	if err != nil {
		return nil, "", err
	}
	base := cfg.path
	if base == "" {
		base = "/bench/" + cfg.scenario + "/" + newRunID()
	}
	var b strings.Builder
	for k := range strings.SplitSeq(base, "/") {
		if k != "" {
			b.WriteString("/" + url.PathEscape(k))
		}
	}
	return t, b.String(), nil
}

// dbRoot is the escaped URL path of the tree's root, without a final
// slash.
func (r *runner) dbRoot() string { return strings.TrimSuffix(r.db.hub.EscapedPath(), "/") }

// dbURLPath is the URL path of the location loc (escaped, from the root).
func (r *runner) dbURLPath(loc string) string { return r.dbRoot() + loc + ".json" }

// dbURL is the URL of the location loc, for reports.
func (r *runner) dbURL(loc string) string {
	return (&url.URL{Scheme: r.db.hub.Scheme, Host: r.db.hub.Host}).String() + r.dbURLPath(loc)
}

// dbWatched is the location the run's streams watch (for db-spread, the
// parent of theirs) or, for db-write and db-snapshot, write and read.
func (r *runner) dbWatched() string {
	switch r.cfg.scenario {
	case "db-write":
		return r.dbBase + "/writers"
	case "db-fanout":
		return r.dbBase + "/device"
	case "db-spread":
		return r.dbBase + "/devices"
	case "db-snapshot":
		return r.dbBase + "/tree"
	}
	return r.dbBase + "/log"
}

// dbWriteReport is the outcome of the db-write scenario.
type dbWriteReport struct {
	Writers      int            `json:"writers"`
	Seconds      float64        `json:"seconds"`
	Written      int64          `json:"written"`
	WritesPerSec float64        `json:"writes_per_sec"`
	Latency      latencySummary `json:"latency"` // request sent to answer read
	Errors       int64          `json:"errors"`
	ErrorKinds   []errorKind    `json:"error_kinds,omitempty"`
	Server       *serverUse     `json:"server,omitempty"`
}

// dbWrite runs -c writers for --duration, each putting its own leaf, one
// write after another: each write is answered once the journal holds it
// (with bolt, once it is on disk) and reads see it.
func (r *runner) dbWrite(ctx context.Context) (*dbWriteReport, error) {
	c := r.cfg.concurrency
	clients := make([]*rawClient, c)
	paths := make([]string, c)
	bufs := make([][]byte, c)
	for w := range c {
		clients[w] = newDBClient(r.db, r.token, r.cfg.connectTimeout)
		defer clients[w].close()
		paths[w] = r.dbURLPath(fmt.Sprintf("%s/w%d", r.dbWatched(), w))
	}
	// One write first, so that a hub that refuses them all says why at
	// once rather than after --duration.
	if err := clients[0].put(ctx, paths[0], appendLeaf(nil, payload{sent: time.Now().UnixNano()}, r.cfg.size)); err != nil {
		return nil, err
	}
	before := r.probe.sample(ctx)
	res := r.hammer(ctx, c, "written", func(ctx context.Context, w int, pl payload) error {
		bufs[w] = appendLeaf(bufs[w][:0], pl, r.cfg.size)
		return clients[w].put(ctx, paths[w], bufs[w])
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return &dbWriteReport{
		Writers: c, Seconds: res.elapsed.Seconds(),
		Written: res.done, WritesPerSec: float64(res.done) / res.elapsed.Seconds(),
		Latency: res.latency.summary(), Errors: res.tally.total.Load(), ErrorKinds: res.tally.list(),
		Server: between(before, r.probe.sample(ctx)),
	}, nil
}

package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"
)

// runner holds what every scenario needs.
type runner struct {
	cfg config
	// nodes are the hubs of --hub, in order; target is the first, which
	// a scenario that uses one hub loads.
	nodes     []*target
	target    *target
	resumeAt  *target // resume: the hub to resume on
	token     string
	topic     string
	probe     *serverProbe
	fileLimit uint64
	stderr    io.Writer
	notes     []string
	// db dials the state tree (db-* scenarios); its URL's path is the
	// tree's root. dbBase is the escaped location the run works under.
	db     *target
	dbBase string
}

// perProcessSockets is the most subscribers one process holds: the
// open-file limit less a margin for the publisher, metrics scrapes and the
// runtime's own files.
func perProcessSockets(limit uint64) int {
	const margin = 1000
	if limit == 0 || limit > 1<<24 {
		return 1 << 24
	}
	return max(int(limit)-margin, 100)
}

func newRunner(ctx context.Context, cfg config, fileLimit uint64, stderr io.Writer) (*runner, error) {
	r := &runner{cfg: cfg, token: cfg.token, topic: cfg.topic, fileLimit: fileLimit, stderr: stderr}
	for _, raw := range cfg.hubs {
		t, err := newHubTarget(ctx, cfg, raw)
		if err != nil {
			return nil, err
		}
		r.nodes = append(r.nodes, t)
	}
	r.target, r.resumeAt = r.nodes[0], r.nodes[0]
	if cfg.resumeHub != "" {
		t, err := newHubTarget(ctx, cfg, cfg.resumeHub)
		if err != nil {
			return nil, fmt.Errorf("--resume-hub: %w", err)
		}
		r.resumeAt = t
	}
	hub := r.target.hub
	if r.topic == "" {
		r.topic = topicURL(cfg.scenario, newRunID())
	}
	var err error
	if isDB(cfg.scenario) {
		if r.db, r.dbBase, err = newDBTarget(ctx, cfg, hub, cfg.sources); err != nil {
			return nil, err
		}
	}
	if cfg.key != "" {
		if r.token, err = mintToken(cfg.key, cfg.timeout+time.Hour); err != nil {
			return nil, fmt.Errorf("minting a token: %w", err)
		}
	}
	var metrics *target
	// Several hubs' metrics do not add up to one figure; their processes'
	// do (--pid).
	if cfg.metrics != "none" && len(r.nodes) == 1 {
		raw := cfg.metrics
		if raw == "auto" {
			raw = (&url.URL{Scheme: hub.Scheme, Host: hub.Host, Path: "/metrics"}).String()
		}
		mu, maddr, err := resolveLoopback(ctx, systemLookup, raw)
		if err != nil {
			return nil, fmt.Errorf("--metrics: %w", err)
		}
		if metrics, err = newTarget(targetSpec{Hub: mu.String(), Addr: maddr.String(), Insecure: cfg.insecure}); err != nil {
			return nil, err
		}
	}
	var notes []string
	// A hub without /metrics is normal: say so only when it was asked for.
	r.probe, notes = newServerProbe(ctx, cfg.pids, metrics, cfg.metrics != "auto")
	r.notes = append(r.notes, notes...)
	if !r.probe.enabled() && cfg.scenario == "idle" {
		r.notes = append(r.notes, "no --pid and no /metrics: server memory per connection cannot be measured")
	}
	return r, nil
}

// run runs the configured scenario.
func (r *runner) run(ctx context.Context) (*report, error) {
	rep := &report{
		Scenario: r.cfg.scenario, Transport: r.cfg.transport, Hub: r.target.spec.Hub, Topic: r.topic, Selector: r.cfg.selector,
		Started: time.Now(),
	}
	if len(r.nodes) > 1 {
		for _, t := range r.nodes {
			rep.Hubs = append(rep.Hubs, t.spec.Hub)
		}
	}
	if r.db != nil {
		rep.Topic, rep.Path = "", r.dbURL(r.dbBase)
	}
	defer r.probe.close()
	cpuBefore, cpuOK := ownCPU()
	var err error
	switch r.cfg.scenario {
	case "idle":
		rep.Idle, err = r.idle(ctx)
	case "fanout":
		rep.Fanout, err = r.fanout(ctx)
	case "publish":
		if r.cfg.transport == transportWS {
			rep.Publish, err = r.publishWS(ctx)
		} else {
			rep.Publish, err = r.publishLoad(ctx)
		}
	case "resume":
		rep.Resume, err = r.resume(ctx)
	case "soak":
		rep.Fanout, rep.Soak, err = r.soak(ctx)
	case "db-write":
		rep.DBWrite, err = r.dbWrite(ctx)
	case "db-fanout", "db-spread":
		rep.Fanout, err = r.fanout(ctx)
	case "db-snapshot":
		rep.DBSnapshot, err = r.dbSnapshot(ctx)
	case "db-resume":
		rep.Resume, err = r.dbResume(ctx)
	}
	if err != nil {
		return nil, err
	}
	rep.ElapsedSeconds = time.Since(rep.Started).Seconds()
	if cpuAfter, ok := ownCPU(); ok && cpuOK {
		rep.BenchCPUSeconds = ptr(cpuAfter - cpuBefore)
	}
	rep.Notes = r.notes
	rep.Problems = rep.problems()
	return rep, nil
}

// progressf prints a progress line on stderr unless --quiet.
func (r *runner) progressf(format string, args ...any) {
	if !r.cfg.quiet {
		fmt.Fprintf(r.stderr, "bench %s: "+format+"\n", append([]any{r.cfg.scenario}, args...)...)
	}
}

// pollEvery is how often the parent looks at its groups' counters.
const pollEvery = 50 * time.Millisecond

// waitFor polls done until it reports true, limit passes or ctx ends, and
// prints progress() every second. It reports whether done became true; only
// the end of ctx is an error.
func (r *runner) waitFor(ctx context.Context, limit time.Duration, done func() bool, progress func() string) (bool, error) {
	deadline := time.Now().Add(limit)
	lastPrint := time.Now()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if done() {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if progress != nil && time.Since(lastPrint) >= time.Second {
			r.progressf("%s", progress())
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// remaining is how long ctx has left, or a day if it has no deadline.
func remaining(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 24 * time.Hour
}

// startGroups spreads n subscribers of the run's topic over the hubs, the
// i-th hub taking the i-th share, and each hub's share over as many groups
// as the open-file limit and --procs call for: one in this process, or
// child processes that each hold subscribers of one hub. It returns the
// groups of each hub, and how many child processes hold them.
func (r *runner) startGroups(n int) ([][]group, int, error) {
	hubs := len(r.nodes)
	per := perProcessSockets(r.fileLimit)
	most := (n + hubs - 1) / hubs // the largest share of a hub
	need := hubs * ((most + per - 1) / per)
	procs := r.cfg.procs
	if procs == 0 && n > per {
		procs = need
	}
	if fewest := procs / hubs; procs > 0 && (most+fewest-1)/fewest > per {
		return nil, 0, fmt.Errorf("%d subscribers over %d processes is %d each, more than the open-file limit allows (%d): use --procs %d",
			n, procs, (most+fewest-1)/fewest, per, need)
	}
	spec := groupSpec{
		Token: r.token, Topic: cmp.Or(r.cfg.selector, r.topic), Transport: r.cfg.transport,
		Concurrency: max(r.cfg.connectConcurrency/max(procs, hubs), 1), ConnectTimeout: r.cfg.connectTimeout,
		Goroutines: r.cfg.goroutines,
	}
	if r.db != nil {
		spec.Topic = ""
		spec.DB, spec.Spread = r.dbRoot()+r.dbWatched(), r.cfg.scenario == "db-spread"
	}
	byHub := make([][]group, hubs)
	first := 0
	for h, t := range r.nodes {
		s := spec
		s.Target = t.spec
		if r.db != nil {
			s.Target = r.db.spec
		}
		count := share(n, h, hubs)
		if procs == 0 {
			s.Count, s.First = count, first
			p, err := startPool(s)
			if err != nil {
				abortAll(slices.Concat(byHub...))
				return nil, 0, err
			}
			byHub[h] = []group{localGroup{p}}
			first += count
			continue
		}
		mine := share(procs, h, hubs)
		for i := range mine {
			s.Count, s.First = share(count, i, mine), first
			g, err := startChild(s, r.stderr)
			if err != nil {
				abortAll(slices.Concat(byHub...))
				return nil, 0, err
			}
			byHub[h] = append(byHub[h], g)
			first += s.Count
		}
	}
	return byHub, procs, nil
}

func abortAll(groups []group) {
	for _, g := range groups {
		g.abort()
	}
}

func statusOf(groups []group) groupStatus {
	var s groupStatus
	for _, g := range groups {
		s.add(g.status())
	}
	return s
}

// collectAll gathers one step's results from every group.
func collectAll(ctx context.Context, groups []group, step int) (stepResult, error) {
	total := stepResult{Step: step, Latency: newHistogram()}
	for _, g := range groups {
		r, err := g.collect(ctx, step)
		if err != nil {
			return total, err
		}
		total.add(r)
	}
	return total, nil
}

// finishAll closes every group and adds up what they report.
func finishAll(ctx context.Context, groups []group) (groupResult, error) {
	total := groupResult{Connect: newHistogram()}
	var firstErr error
	for _, g := range groups {
		res, err := g.finish(ctx)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		total.Status.add(res.Status)
		total.Connect.merge(res.Connect)
	}
	return total, firstErr
}

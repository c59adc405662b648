package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A cluster of hubs (Herald nodes sharing one journal) is measured as one
// hub whose load is spread over its nodes: --hub names them all, idle and
// fanout open the i-th share of their subscribers on the i-th node,
// publish and resume give the w-th publisher the node w mod N, and resume
// can resume on a node of its own (--resume-hub). Memory and CPU are the
// nodes' sums, with each node's figures beside them when --pid names every
// node's process.

// multiNodeScenarios are the scenarios that spread their load over
// several hubs.
var multiNodeScenarios = []string{"idle", "fanout", "publish", "resume"}

// parseList splits a comma-separated flag value; empty items are refused.
func parseList(s string) ([]string, error) {
	var list []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("empty item in %q", s)
		}
		list = append(list, f)
	}
	return list, nil
}

// parsePIDs reads --pid: process IDs, comma-separated.
func parsePIDs(s string) ([]int, error) {
	list, err := parseList(s)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(list))
	for i, f := range list {
		if pids[i], err = strconv.Atoi(f); err != nil || pids[i] <= 0 {
			return nil, fmt.Errorf("bad process ID %q", f)
		}
	}
	return pids, nil
}

// checkNodes validates the flags that name hubs and their processes.
func (cfg *config) checkNodes() error {
	n := len(cfg.hubs)
	switch {
	case len(cfg.pids) > 0 && len(cfg.pids) != n:
		return fmt.Errorf("--pid: %d process IDs for %d hubs; give one per --hub, in the same order", len(cfg.pids), n)
	case cfg.resumeHub != "" && cfg.scenario != "resume":
		return errors.New("--resume-hub is resume's")
	case n == 1:
		return nil
	}
	multi := false
	for _, s := range multiNodeScenarios {
		multi = multi || s == cfg.scenario
	}
	switch {
	case !multi:
		return fmt.Errorf("%s measures one hub: give --hub one URL (several are for %s)", cfg.scenario, strings.Join(multiNodeScenarios, ", "))
	case cfg.procs > 0 && cfg.procs < n:
		return fmt.Errorf("--procs %d for %d hubs: a child process holds the subscribers of one hub, so give at least %d", cfg.procs, n, n)
	case cfg.metrics != "auto" && cfg.metrics != "none":
		return errors.New("--metrics: with several --hub, the hubs' memory and CPU come from --pid")
	}
	return nil
}

// hubPID is the process ID of the (first) hub, 0 if --pid was not given.
func (cfg *config) hubPID() int {
	if len(cfg.pids) == 0 {
		return 0
	}
	return cfg.pids[0]
}

// newHubTarget resolves one hub URL to a target dialled from the --sources
// addresses.
func newHubTarget(ctx context.Context, cfg config, raw string) (*target, error) {
	hub, addr, err := resolveLoopback(ctx, systemLookup, raw)
	if err != nil {
		return nil, err
	}
	return newTarget(targetSpec{Hub: hub.String(), Addr: addr.String(), Sources: chooseSources(cfg.sources, addr), Insecure: cfg.insecure})
}

// share is the part of n that the i-th of k takes: the shares differ by
// one at most and add up to n.
func share(n, i, k int) int { return n*(i+1)/k - n*i/k }

// newPublishers returns a publisher per hub, for c concurrent senders:
// sender w publishes to hub w mod the hubs, whose publisher keeps a
// connection for each of its senders.
func (r *runner) newPublishers(c int) []*publisher {
	k := len(r.nodes)
	pubs := make([]*publisher, k)
	for i, t := range r.nodes {
		pubs[i] = newPublisher(t, r.token, max((c-i+k-1)/k, 1), r.cfg.connectTimeout)
	}
	return pubs
}

func closePublishers(pubs []*publisher) {
	for _, p := range pubs {
		p.close()
	}
}

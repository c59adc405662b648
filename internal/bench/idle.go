package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// idleReport is the outcome of the idle scenario.
type idleReport struct {
	Subscribers int   `json:"subscribers"`
	Procs       int   `json:"procs"`
	Connected   int64 `json:"connected"`
	Failed      int64 `json:"failed"`
	// ConnectSeconds runs from the first connect attempt to the last
	// response headers; ConnectRate is Connected over it.
	ConnectSeconds float64        `json:"connect_seconds"`
	ConnectRate    float64        `json:"connect_rate"`
	ConnectLatency latencySummary `json:"connect_latency"`
	// Memory per connection: the hub's RSS once all are connected and it
	// has settled, less its RSS before the first, over Connected.
	RSSBeforeBytes  *int64     `json:"rss_before_bytes,omitempty"`
	RSSSettledBytes *int64     `json:"rss_settled_bytes,omitempty"`
	BytesPerConn    *float64   `json:"bytes_per_conn,omitempty"`
	SettleSeconds   float64    `json:"settle_seconds"`
	HoldSeconds     float64    `json:"hold_seconds"`
	Dropped         int64      `json:"dropped"`     // streams the hub ended while held
	OpenAtEnd       int64      `json:"open_at_end"` // streams open when the hold ended
	ServerConnect   *serverUse `json:"server_connect,omitempty"`
	// HubCPUPerConnect is the hub's CPU while connecting over Connected,
	// in microseconds.
	HubCPUPerConnect *float64     `json:"hub_cpu_us_per_connect,omitempty"`
	ServerHold       *serverUse   `json:"server_hold,omitempty"`
	FirstError       string       `json:"first_error,omitempty"`
	Ramp             []countPoint `json:"ramp"`
	// Nodes are each hub's figures, when --hub names several: the memory
	// per connection of each is its process's RSS growth over the
	// subscribers connected to it (with a --pid for each).
	Nodes []idleNode `json:"nodes,omitempty"`
}

// idleNode is what one of several hubs held in the idle scenario.
type idleNode struct {
	Hub             string   `json:"hub"`
	PID             int      `json:"pid,omitempty"`
	Subscribers     int      `json:"subscribers"`
	Connected       int64    `json:"connected"`
	OpenAtEnd       int64    `json:"open_at_end"`
	RSSBeforeBytes  *int64   `json:"rss_before_bytes,omitempty"`
	RSSSettledBytes *int64   `json:"rss_settled_bytes,omitempty"`
	BytesPerConn    *float64 `json:"bytes_per_conn,omitempty"`
}

// countPoint is a count (subscribers connected, events replayed) some
// time into a phase of the run.
type countPoint struct {
	Seconds float64 `json:"s"`
	Count   int64   `json:"count"`
}

func (r *runner) idle(ctx context.Context) (*idleReport, error) {
	n := r.cfg.subscribers
	before := r.probe.sample(ctx)
	byHub, procs, err := r.startGroups(n)
	if err != nil {
		return nil, err
	}
	groups := slices.Concat(byHub...)
	defer abortAll(groups)
	rep := &idleReport{Subscribers: n, Procs: procs}

	start := time.Now()
	rep.Ramp = []countPoint{{}}
	_, err = r.waitFor(ctx, remaining(ctx), func() bool {
		st := statusOf(groups)
		rep.Ramp = append(rep.Ramp, countPoint{Seconds: time.Since(start).Seconds(), Count: st.Connected})
		return st.Attempted >= int64(n)
	}, func() string {
		st := statusOf(groups)
		return fmt.Sprintf("%d/%d connected, %d failed", st.Connected, n, st.Failed)
	})
	if err != nil {
		return nil, err
	}
	st := statusOf(groups)
	rep.Ramp = append(rep.Ramp, countPoint{Seconds: time.Since(start).Seconds(), Count: st.Connected})
	rep.Connected, rep.Failed, rep.FirstError = st.EverConnected, st.Failed, st.FirstError
	if st.ConnectEnd > st.ConnectStart {
		rep.ConnectSeconds = time.Duration(st.ConnectEnd - st.ConnectStart).Seconds()
		rep.ConnectRate = float64(rep.Connected) / rep.ConnectSeconds
	}
	if rep.Connected == 0 {
		return nil, fmt.Errorf("no subscriber could connect: %s", st.FirstError)
	}
	r.progressf("%d connected in %.2fs (%.0f/s); waiting for the hub's memory to settle", rep.Connected, rep.ConnectSeconds, rep.ConnectRate)

	settleStart := time.Now()
	settled, err := r.settle(ctx)
	if err != nil {
		return nil, err
	}
	rep.SettleSeconds = time.Since(settleStart).Seconds()
	rep.ServerConnect = between(before, settled)
	rep.HubCPUPerConnect = cpuPer(rep.ServerConnect, rep.Connected)
	rep.RSSBeforeBytes, rep.RSSSettledBytes = before.RSSBytes, settled.RSSBytes
	rep.BytesPerConn = bytesPerConn(before.RSSBytes, settled.RSSBytes, rep.Connected)

	holdStart := time.Now()
	dropsBefore := statusOf(groups).Drops
	if _, err := r.waitFor(ctx, r.cfg.duration, func() bool { return false }, func() string {
		st := statusOf(groups)
		return fmt.Sprintf("holding %d open, %d dropped", st.Connected, st.Drops-dropsBefore)
	}); err != nil {
		return nil, err
	}
	end := statusOf(groups)
	rep.HoldSeconds = time.Since(holdStart).Seconds()
	rep.Dropped, rep.OpenAtEnd = end.Drops-dropsBefore, end.Connected
	rep.ServerHold = between(settled, r.probe.sample(ctx))
	if len(byHub) > 1 {
		rep.Nodes = r.idleNodes(byHub, before, settled)
	}

	res, err := finishAll(ctx, groups)
	if err != nil {
		return nil, err
	}
	rep.ConnectLatency = res.Connect.summary()
	return rep, nil
}

// idleNodes reports each hub's share of an idle run.
func (r *runner) idleNodes(byHub [][]group, before, settled serverSample) []idleNode {
	nodes := make([]idleNode, len(byHub))
	for i, groups := range byHub {
		st := statusOf(groups)
		nd := idleNode{
			Hub: r.nodes[i].spec.Hub, Subscribers: share(r.cfg.subscribers, i, len(byHub)),
			Connected: st.EverConnected, OpenAtEnd: st.Connected,
		}
		if len(before.Nodes) == len(byHub) && len(settled.Nodes) == len(byHub) {
			b, s := before.Nodes[i], settled.Nodes[i]
			nd.PID, nd.RSSBeforeBytes, nd.RSSSettledBytes = b.PID, b.RSSBytes, s.RSSBytes
			nd.BytesPerConn = bytesPerConn(b.RSSBytes, s.RSSBytes, nd.Connected)
		}
		nodes[i] = nd
	}
	return nodes
}

// bytesPerConn is a hub's RSS growth from before to settled over the n
// connections it took; nil when either is unknown or n is 0.
func bytesPerConn(before, settled *int64, n int64) *float64 {
	if before == nil || settled == nil || n <= 0 {
		return nil
	}
	return ptr(float64(*settled-*before) / float64(n))
}

// settle samples the hub until its RSS changes by less than 1% over half a
// second (the runtime returns memory and the kernel frees socket buffers
// for a while after a burst), or --settle passes.
func (r *runner) settle(ctx context.Context) (serverSample, error) {
	prev := r.probe.sample(ctx)
	if prev.RSSBytes == nil {
		return prev, nil
	}
	deadline := time.Now().Add(r.cfg.settle)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return prev, ctx.Err()
		case <-tick.C:
		}
		cur := r.probe.sample(ctx)
		if cur.RSSBytes == nil {
			return prev, nil
		}
		change := math.Abs(float64(*cur.RSSBytes-*prev.RSSBytes)) / float64(*prev.RSSBytes)
		prev = cur
		if change < 0.01 {
			break
		}
	}
	return prev, nil
}

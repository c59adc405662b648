package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// publishReport is the outcome of the publish scenario.
type publishReport struct {
	Publishers int `json:"publishers"`
	// Window is how many publishes each WebSocket had awaiting their ack
	// at most; 0 for HTTP, where each publisher waits for its answer.
	Window          int            `json:"window,omitempty"`
	Seconds         float64        `json:"seconds"`
	Published       int64          `json:"published"`
	PublishesPerSec float64        `json:"publishes_per_sec"`
	Latency         latencySummary `json:"latency"`
	Errors          int64          `json:"errors"`
	ErrorKinds      []errorKind    `json:"error_kinds,omitempty"`
	Server          *serverUse     `json:"server,omitempty"`
	// HubCPUPerPublish is the hub's CPU over Published, in microseconds
	// (with --pid, or a hub whose metrics say).
	HubCPUPerPublish *float64 `json:"hub_cpu_us_per_publish,omitempty"`
}

// errorKind counts the failures of one kind, with one example message.
type errorKind struct {
	Kind    string `json:"kind"`
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// errorTally counts errors by kind, safely from many goroutines.
type errorTally struct {
	mu    sync.Mutex
	kinds map[string]*errorKind
	total atomic.Int64
}

func (t *errorTally) add(err error) {
	t.total.Add(1)
	kind := classify(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kinds == nil {
		t.kinds = map[string]*errorKind{}
	}
	k := t.kinds[kind]
	if k == nil {
		// The example says how to cure a refusal for want of rights.
		k = &errorKind{Kind: kind, Example: publishHint(err).Error()}
		t.kinds[kind] = k
	}
	k.Count++
}

func (t *errorTally) list() []errorKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	var l []errorKind
	for _, k := range t.kinds {
		l = append(l, *k)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Count > l[j].Count })
	return l
}

// classify names the kind of a publish failure: an HTTP status (or the
// code of a WebSocket error or close), a timeout, an ack missing or out of
// order, or a network error.
func classify(err error) string {
	var pe *publishError
	var de *dbError
	var we *wsPublishError
	var ce *wsCloseError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("HTTP %d", pe.status)
	case errors.As(err, &de):
		return fmt.Sprintf("HTTP %d", de.status)
	case errors.As(err, &we):
		return fmt.Sprintf("error %d", we.code)
	case errors.As(err, &ce):
		return fmt.Sprintf("closed %d", ce.code)
	case errors.Is(err, errAckOrder):
		return "ack out of order"
	case errors.Is(err, errNoAck):
		return "no ack"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "network"
	}
}

// publishLoad runs the publish scenario: -c publishers, each publishing
// one event after another, for --duration; with several hubs, publisher w
// to hub w mod their number.
func (r *runner) publishLoad(ctx context.Context) (*publishReport, error) {
	c := r.cfg.concurrency
	// Publisher w publishes to node w mod the nodes, over a connection of
	// its own, written and read by its goroutine (see rawClient).
	clients := make([]*rawClient, c)
	for w := range clients {
		clients[w] = newFormClient(r.nodes[w%len(r.nodes)], r.token, r.cfg.connectTimeout)
		defer clients[w].close()
	}
	before := r.probe.sample(ctx)
	bufs := make([][]byte, c)
	res := r.hammer(ctx, c, "published", func(ctx context.Context, w int, pl payload) error {
		bufs[w] = appendPayload(bufs[w][:0], pl, r.cfg.size)
		return clients[w].publish(ctx, r.topic, bufs[w])
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep := &publishReport{
		Publishers: c, Seconds: res.elapsed.Seconds(),
		Published: res.done, PublishesPerSec: float64(res.done) / res.elapsed.Seconds(),
		Latency: res.latency.summary(), Errors: res.tally.total.Load(), ErrorKinds: res.tally.list(),
		Server: between(before, r.probe.sample(ctx)),
	}
	rep.HubCPUPerPublish = cpuPer(rep.Server, rep.Published)
	if rep.Published == 0 && rep.Errors > 0 {
		return nil, fmt.Errorf("every publish failed: %s", rep.ErrorKinds[0].Example)
	}
	return rep, nil
}

// hammerResult is what concurrent senders got through in --duration.
type hammerResult struct {
	elapsed time.Duration
	done    int64
	latency *histogram
	tally   *errorTally
}

// hammer runs c senders for --duration, each sending one event after
// another as fast as the hub answers; send is one event, as sender w.
// done names what a sent event is, in the progress lines.
func (r *runner) hammer(ctx context.Context, c int, done string, send func(ctx context.Context, w int, pl payload) error) hammerResult {
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.duration)
	defer cancel()
	var (
		mu      sync.Mutex
		res     = hammerResult{latency: newHistogram(), tally: &errorTally{}}
		count   atomic.Int64
		seq     atomic.Uint64
		wg      sync.WaitGroup
		started = time.Now()
	)
	for w := range c {
		wg.Go(func() {
			local := newHistogram()
			defer func() {
				mu.Lock()
				res.latency.merge(local)
				mu.Unlock()
			}()
			for runCtx.Err() == nil {
				t0 := time.Now()
				err := send(runCtx, w, payload{step: 1, seq: seq.Add(1), sent: t0.UnixNano()})
				switch {
				case err == nil:
					local.record(time.Since(t0))
					count.Add(1)
				case runCtx.Err() == nil:
					res.tally.add(err)
				}
			}
		})
	}
	stopProgress := r.every(time.Second, func() {
		r.progressf("%d %s, %d errors", count.Load(), done, res.tally.total.Load())
	})
	wg.Wait()
	stopProgress()
	res.elapsed, res.done = time.Since(started), count.Load()
	return res
}

// every calls fn at each period until the returned stop is called; stop
// waits for a running fn to return.
func (r *runner) every(period time.Duration, fn func()) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fn()
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}

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
	var we *wsPublishError
	var ce *wsCloseError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("HTTP %d", pe.status)
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
// one event after another, for --duration.
func (r *runner) publishLoad(ctx context.Context) (*publishReport, error) {
	c := r.cfg.concurrency
	pub := newPublisher(r.target, r.token, c, r.cfg.connectTimeout)
	defer pub.close()
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.duration)
	defer cancel()

	var (
		mu      sync.Mutex
		hist    = newHistogram()
		tally   errorTally
		done    atomic.Int64
		seq     atomic.Uint64
		wg      sync.WaitGroup
		before  = r.probe.sample(ctx)
		started = time.Now()
	)
	for range c {
		wg.Go(func() {
			local := newHistogram()
			defer func() {
				mu.Lock()
				hist.merge(local)
				mu.Unlock()
			}()
			var buf []byte
			for runCtx.Err() == nil {
				t0 := time.Now()
				buf = appendPayload(buf[:0], payload{step: 1, seq: seq.Add(1), sent: t0.UnixNano()}, r.cfg.size)
				_, err := pub.publish(runCtx, r.topic, buf)
				switch {
				case err == nil:
					local.record(time.Since(t0))
					done.Add(1)
				case runCtx.Err() == nil:
					tally.add(err)
				}
			}
		})
	}
	stopProgress := r.every(time.Second, func() {
		r.progressf("%d published, %d errors", done.Load(), tally.total.Load())
	})
	wg.Wait()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	elapsed := time.Since(started)
	rep := &publishReport{
		Publishers: c, Seconds: elapsed.Seconds(),
		Published: done.Load(), PublishesPerSec: float64(done.Load()) / elapsed.Seconds(),
		Latency: hist.summary(), Errors: tally.total.Load(), ErrorKinds: tally.list(),
		Server: between(before, r.probe.sample(ctx)),
	}
	if rep.Published == 0 && rep.Errors > 0 {
		return nil, fmt.Errorf("every publish failed: %s", rep.ErrorKinds[0].Example)
	}
	return rep, nil
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

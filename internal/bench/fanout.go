package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fanoutReport is the outcome of the fanout scenario.
type fanoutReport struct {
	Subscribers int          `json:"subscribers"`
	Procs       int          `json:"procs"`
	Connected   int64        `json:"connected"`
	Failed      int64        `json:"failed"`
	ConnectRate float64      `json:"connect_rate"`
	Unprimed    int64        `json:"unprimed"` // connected but never received a probe
	Steps       []fanoutStep `json:"steps"`
	Knee        *knee        `json:"knee,omitempty"`
	Drops       int64        `json:"drops"`
	Reconnects  int64        `json:"reconnects"`
	Late        int64        `json:"late"`    // deliveries after --drain, counted as lost
	Foreign     int64        `json:"foreign"` // events on the topic that were not the bench's
	FirstError  string       `json:"first_error,omitempty"`
	// Attack is the load beside the subscribers, with --attackers or
	// --churn.
	Attack *attackReport `json:"attack,omitempty"`
	// Writers is how many paced writers shared each step's rate (the
	// db-* scenarios; Mercure events come from one publisher).
	Writers int `json:"writers,omitempty"`
}

// fanoutStep is one publishing rate held for --duration.
type fanoutStep struct {
	TargetRate    float64 `json:"target_rate"`
	Published     int64   `json:"published"`
	PublishErrors int64   `json:"publish_errors"`
	PublishRate   float64 `json:"publish_rate"` // achieved
	// PublishLatency is how long the hub took to accept each publish: a
	// hub that fans out before answering slows its publishers down.
	PublishLatency latencySummary `json:"publish_latency"`
	Expected       int64          `json:"expected"` // published x subscribers
	Delivered      int64          `json:"delivered"`
	// DeliveriesPerSec is Delivered over the time from the first publish
	// to the last delivery.
	DeliveriesPerSec  float64        `json:"deliveries_per_sec"`
	Lost              int64          `json:"lost"`
	Duplicates        int64          `json:"duplicates"`
	Latency           latencySummary `json:"latency"`
	Server            *serverUse     `json:"server,omitempty"`
	FirstPublishError string         `json:"first_publish_error,omitempty"`
	// Polls, with --transport poll, are the answers that began with an
	// event of the step; PollsPerSec is Polls over the same span as
	// DeliveriesPerSec. PollRoundTrip is the round trip (request sent to
	// answer read) of the polls the hub answered at once, their first
	// event having been published before they were sent: the bar
	// "p99 delivery ≤ one poll round trip + 50 ms" is judged against it.
	Polls         int64           `json:"polls,omitempty"`
	PollsPerSec   float64         `json:"polls_per_sec,omitempty"`
	PollRoundTrip *latencySummary `json:"poll_round_trip,omitempty"`
}

// knee is the first rate of a sweep at which p99 latency passed a threshold.
type knee struct {
	ThresholdMS float64 `json:"threshold_ms"`
	Reached     bool    `json:"reached"`
	Rate        float64 `json:"rate,omitempty"`       // first rate over the threshold
	LastUnder   float64 `json:"last_under,omitempty"` // the rate before it, if any
}

// primeLimit bounds the wait for every subscriber to receive a probe.
const primeLimit = 30 * time.Second

func (r *runner) fanout(ctx context.Context) (*fanoutReport, error) {
	n := r.cfg.subscribers
	byHub, procs, err := r.startGroups(n)
	if err != nil {
		return nil, err
	}
	groups := slices.Concat(byHub...)
	defer abortAll(groups)
	rep := &fanoutReport{Subscribers: n, Procs: procs}
	if _, err := r.waitFor(ctx, remaining(ctx), func() bool {
		return statusOf(groups).Attempted >= int64(n)
	}, func() string {
		st := statusOf(groups)
		return fmt.Sprintf("%d/%d connected, %d failed", st.Connected, n, st.Failed)
	}); err != nil {
		return nil, err
	}
	st := statusOf(groups)
	rep.Connected, rep.Failed = st.EverConnected, st.Failed
	if st.ConnectEnd > st.ConnectStart {
		rep.ConnectRate = float64(st.EverConnected) / time.Duration(st.ConnectEnd-st.ConnectStart).Seconds()
	}
	if rep.Connected == 0 {
		return nil, fmt.Errorf("no subscriber could connect: %s", st.FirstError)
	}

	src := r.newEventSource()
	defer src.close()
	rep.Writers = src.writers()
	if rep.Unprimed, err = src.prime(ctx, groups); err != nil {
		return nil, err
	}
	if r.cfg.attackers > 0 || r.cfg.churn > 0 {
		a := r.startAttack(ctx)
		defer func() { rep.Attack = a.stop() }()
	}

	var seq atomic.Uint64
	var counted int64 // deliveries of the steps already collected
	for i, rate := range r.cfg.rates {
		step := i + 1
		before := r.probe.sample(ctx)
		paced := r.sendPaced(ctx, src, step, rate, &seq)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s := fanoutStep{
			TargetRate: rate, Published: paced.published, PublishErrors: paced.errors,
			PublishRate: float64(paced.published) / paced.elapsed.Seconds(), FirstPublishError: paced.firstError,
			PublishLatency: paced.latency.summary(),
			Expected:       src.due(paced.published, rep.Connected),
		}
		if note := shortfall(s); note != "" {
			r.notes = append(r.notes, note)
		}
		if _, err := r.waitFor(ctx, r.cfg.drain, func() bool {
			return statusOf(groups).Received-counted >= s.Expected
		}, func() string {
			return fmt.Sprintf("rate %g/s: draining, %d/%d delivered", rate, statusOf(groups).Received-counted, s.Expected)
		}); err != nil {
			return nil, err
		}
		res, err := collectAll(ctx, groups, step)
		if err != nil {
			return nil, err
		}
		s.Server = between(before, r.probe.sample(ctx))
		counted += res.Delivered
		s.Delivered, s.Duplicates = res.Delivered, res.Duplicates
		s.Lost = max(s.Expected-res.Delivered, 0)
		s.Latency = res.Latency.summary()
		if span := time.Duration(res.LastRecv - paced.firstSend); span > 0 {
			s.DeliveriesPerSec = float64(res.Delivered) / span.Seconds()
			s.PollsPerSec = float64(res.Polls) / span.Seconds()
		}
		if r.cfg.transport == transportPoll {
			s.Polls = res.Polls
			rt := latencySummary{}
			if res.PollRoundTrip != nil {
				rt = res.PollRoundTrip.summary()
			}
			s.PollRoundTrip = &rt
		}
		rep.Steps = append(rep.Steps, s)
		r.progressf("rate %g/s: %d published, %.0f deliveries/s, p99 %.2f ms, %d lost, %d duplicated",
			rate, s.Published, s.DeliveriesPerSec, s.Latency.P99MS, s.Lost, s.Duplicates)
		if rt := s.PollRoundTrip; rt != nil {
			r.progressf("rate %g/s: %.0f polls/s, poll round trip p50 %.2f ms, p99 %.2f ms", rate, s.PollsPerSec, rt.P50MS, rt.P99MS)
		}
	}
	if len(r.cfg.rates) > 1 {
		rep.Knee = findKnee(rep.Steps, r.cfg.knee)
	}

	res, err := finishAll(ctx, groups)
	if err != nil {
		return nil, err
	}
	rep.Drops, rep.Reconnects = res.Status.Drops, res.Status.Reconnects
	rep.Late, rep.Foreign, rep.FirstError = res.Status.Late, res.Status.Foreign, res.Status.FirstError
	return rep, nil
}

// prime publishes probe events until every connected subscriber has
// received one: a hub may send response headers before the subscription
// takes effect, and events published in between would count as lost. It
// returns how many subscribers were still waiting when primeLimit passed.
func (r *runner) prime(ctx context.Context, pub *publisher, groups []group) (int64, error) {
	var buf []byte
	ready := func() bool {
		st := statusOf(groups)
		return st.Primed >= st.EverConnected
	}
	deadline := time.Now().Add(primeLimit)
	for time.Now().Before(deadline) {
		buf = appendPayload(buf[:0], payload{sent: time.Now().UnixNano()}, r.cfg.size)
		if _, err := pub.publish(ctx, r.topic, buf); err != nil {
			return 0, publishHint(err)
		}
		if ok, err := r.waitFor(ctx, 200*time.Millisecond, ready, nil); ok || err != nil {
			return 0, err
		}
	}
	st := statusOf(groups)
	r.notes = append(r.notes, fmt.Sprintf("%d subscribers never received a probe event; their misses count as lost", st.EverConnected-st.Primed))
	return st.EverConnected - st.Primed, nil
}

// pacedResult is what one paced publishing step did.
type pacedResult struct {
	published, errors int64
	latency           *histogram
	firstSend         int64 // Unix ns
	elapsed           time.Duration
	firstError        string
}

// add merges what another writer of the same step did.
func (p *pacedResult) add(o pacedResult) {
	p.published += o.published
	p.errors += o.errors
	p.latency.merge(o.latency)
	if o.firstSend != 0 && (p.firstSend == 0 || o.firstSend < p.firstSend) {
		p.firstSend = o.firstSend
	}
	p.elapsed = max(p.elapsed, o.elapsed)
	if p.firstError == "" {
		p.firstError = o.firstError
	}
}

// sendPaced runs a step: src's writers each send their share of rate
// events per second for --duration, drawing sequence numbers from seq.
func (r *runner) sendPaced(ctx context.Context, src eventSource, step int, rate float64, seq *atomic.Uint64) pacedResult {
	n := src.writers()
	results := make([]pacedResult, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			results[w] = r.pace(ctx, rate/float64(n), func(ctx context.Context, sent time.Time) error {
				return src.send(ctx, w, payload{step: step, seq: seq.Add(1), sent: sent.UnixNano()})
			})
		})
	}
	wg.Wait()
	total := pacedResult{latency: newHistogram()}
	for _, res := range results {
		total.add(res)
	}
	return total
}

// pace calls send at rate times per second for --duration, one call at a
// time so that the events of one writer reach the hub in order. Each call
// is due at a fixed time; a writer that falls behind catches up without
// pausing, and stops at the end of the duration whatever it sent.
func (r *runner) pace(ctx context.Context, rate float64, send func(ctx context.Context, sent time.Time) error) pacedResult {
	res := pacedResult{latency: newHistogram()}
	start := time.Now()
	end := start.Add(r.cfg.duration)
	total := max(int(rate*r.cfg.duration.Seconds()), 1)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range total {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				res.elapsed = time.Since(start)
				return res
			case <-timer.C:
			}
		}
		if i > 0 && time.Now().After(end) {
			break
		}
		sent := time.Now()
		if i == 0 {
			res.firstSend = sent.UnixNano()
		}
		err := send(ctx, sent)
		switch {
		case err == nil:
			res.published++
			res.latency.record(time.Since(sent))
		case ctx.Err() != nil:
			res.elapsed = time.Since(start)
			return res
		default:
			res.errors++
			if res.firstError == "" {
				res.firstError = err.Error()
			}
		}
	}
	res.elapsed = max(time.Since(start), r.cfg.duration)
	return res
}

// shortfall says when a step's publisher fell short of the rate asked:
// its figures are then those of the rate reached, which the table's pub/s
// column and the chart's axis show.
func shortfall(s fanoutStep) string {
	if s.PublishRate >= 0.95*s.TargetRate {
		return ""
	}
	return fmt.Sprintf("asked for %g events/s, the publisher reached %.1f/s: the hub, or this machine shared with the generator, took no more (publish p99 %.0f ms); the step's figures are for %.1f/s",
		s.TargetRate, s.PublishRate, s.PublishLatency.P99MS, s.PublishRate)
}

// findKnee returns the first step whose p99 passed threshold.
func findKnee(steps []fanoutStep, threshold time.Duration) *knee {
	k := &knee{ThresholdMS: millis(threshold)}
	for i, s := range steps {
		if s.Latency.P99MS > k.ThresholdMS {
			k.Reached, k.Rate = true, s.TargetRate
			if i > 0 {
				k.LastUnder = steps[i-1].TargetRate
			}
			return k
		}
	}
	return k
}

package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/selector"
)

// attackReport is what the load beside a fan-out did: the costly streams
// held open, and the subscriptions opened and closed.
type attackReport struct {
	Attackers          int     `json:"attackers"`
	AttackersConnected int64   `json:"attackers_connected"`
	AttackersFailed    int64   `json:"attackers_failed"`
	Churned            int64   `json:"churned"`
	ChurnFailed        int64   `json:"churn_failed"`
	ChurnRate          float64 `json:"churn_rate"` // achieved, per second
	FirstError         string  `json:"first_error,omitempty"`
}

// attack is the load running beside the measured steps.
type attack struct {
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	rep       attackReport
	connected atomic.Int64
	refused   atomic.Int64 // attackers that could not connect
	churned   atomic.Int64
	failed    atomic.Int64 // churn subscriptions that failed
	started   time.Time
	errOnce   sync.Once
	firstErr  atomic.Value // string
	streams   chan *stream
}

// attackerSelectors are the selectors of attacker i: one template that
// no event the bench publishes matches, with no literal text (so no
// prefix index spares it an event), distinct per attacker (so no two
// share a matcher), as costly as budget allows (see
// selector.Selector.Cost). A chain of simple expressions is the shape
// that costs the most matching time per unit of cost, measured: about
// 20 ns per unit on a short topic, where a length-capped {+var:9} costs 2.
func attackerSelectors(i, budget int) []string {
	raw, best := "", ""
	for j := 0; ; j++ {
		raw += fmt.Sprintf("{a%d_%d}", i, j)
		sel, err := selector.Parse(raw)
		if err != nil || sel.Cost() > budget {
			break
		}
		best = raw
	}
	if best == "" {
		best = fmt.Sprintf("{a%d_0}", i)
	}
	return []string{best}
}

// startAttack opens --attackers streams, and starts --churn, until stop.
func (r *runner) startAttack(ctx context.Context) *attack {
	ctx, cancel := context.WithCancel(ctx)
	a := &attack{cancel: cancel, started: time.Now(), streams: make(chan *stream, r.cfg.attackers)}
	a.rep.Attackers = r.cfg.attackers
	sem := make(chan struct{}, max(r.cfg.connectConcurrency, 1))
	for i := range r.cfg.attackers {
		sem <- struct{}{}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() { <-sem }()
			cctx, ccancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
			defer ccancel()
			sels := attackerSelectors(i, r.cfg.attackerCost)
			st, err := r.target.subscribe(cctx, subscribeRequest{topic: sels[0], topics: sels[1:]})
			if err != nil {
				a.refused.Add(1)
				a.noteError(err)
				return
			}
			a.connected.Add(1)
			a.streams <- st
		}()
	}
	a.wg.Wait()
	r.progressf("%d/%d attacking streams open", a.connected.Load(), r.cfg.attackers)
	a.started = time.Now()
	if r.cfg.churn > 0 {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			r.churn(ctx, a, sem)
		}()
	}
	return a
}

// churn opens and closes subscriptions at --churn per second, each with
// --churn-selectors selectors, until ctx ends.
func (r *runner) churn(ctx context.Context, a *attack, sem chan struct{}) {
	every := time.Duration(float64(time.Second) / r.cfg.churn)
	next := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		next = next.Add(every)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		select {
		case sem <- struct{}{}:
		default:
			a.fail(fmt.Errorf("churn: %d subscriptions already opening", cap(sem)))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sels := make([]string, r.cfg.churnSelectors)
			for i := range sels {
				sels[i] = fmt.Sprintf("https://herald.bench/churn/%d/%d/{id}", n, i)
			}
			cctx, ccancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
			defer ccancel()
			st, err := r.target.subscribe(cctx, subscribeRequest{topic: sels[0], topics: sels[1:]})
			if err != nil {
				if ctx.Err() == nil {
					a.fail(err)
				}
				return
			}
			st.conn.Close()
			a.churned.Add(1)
		}()
	}
}

// fail counts a churn subscription that failed.
func (a *attack) fail(err error) {
	a.failed.Add(1)
	a.noteError(err)
}

func (a *attack) noteError(err error) {
	a.errOnce.Do(func() { a.firstErr.Store(err.Error()) })
}

// stop ends the churn, closes the attacking streams and reports.
func (a *attack) stop() *attackReport {
	elapsed := time.Since(a.started)
	a.cancel()
	a.wg.Wait()
	close(a.streams)
	for st := range a.streams {
		st.conn.Close()
	}
	a.rep.AttackersConnected = a.connected.Load()
	a.rep.Churned = a.churned.Load()
	a.rep.AttackersFailed = a.refused.Load()
	a.rep.ChurnFailed = a.failed.Load()
	if elapsed > 0 {
		a.rep.ChurnRate = float64(a.rep.Churned) / elapsed.Seconds()
	}
	if e, ok := a.firstErr.Load().(string); ok {
		a.rep.FirstError = e
	}
	return &a.rep
}

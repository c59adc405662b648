package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// resumeReport is the outcome of the resume scenario.
type resumeReport struct {
	Events         int     `json:"events"` // -k
	Publishers     int     `json:"publishers"`
	Published      int64   `json:"published"`
	PublishErrors  int64   `json:"publish_errors"`
	PublishSeconds float64 `json:"publish_seconds"`
	PublishRate    float64 `json:"publish_rate"`
	// ResumedFrom is the ID sent as Last-Event-ID; HubLastEventID is what
	// the hub answered in its Last-Event-ID header ("earliest" from a
	// Mercure hub that no longer has the ID). ResumedOn is the hub
	// resumed on, when --resume-hub named one.
	ResumedFrom    string `json:"resumed_from"`
	ResumedOn      string `json:"resumed_on,omitempty"`
	HubLastEventID string `json:"hub_last_event_id,omitempty"`
	// Times from the resuming request to its headers, to the first and to
	// the last missed event.
	HeadersMS    float64 `json:"headers_ms"`
	FirstEventMS float64 `json:"first_event_ms"`
	LastEventMS  float64 `json:"last_event_ms"`
	ReplayRate   float64 `json:"replay_rate"` // events/s over LastEventMS
	Received     int64   `json:"received"`    // distinct missed events replayed
	Missing      int64   `json:"missing"`
	Duplicates   int64   `json:"duplicates"`
	// OutOfOrder counts events replayed before one that a publisher had
	// published, and the hub acknowledged, earlier.
	OutOfOrder int64 `json:"out_of_order"`
	// IDMismatch counts events replayed with another ID than the hub gave
	// when it accepted them; Unexpected, events that were never published.
	IDMismatch int64 `json:"id_mismatch"`
	Unexpected int64 `json:"unexpected"`
	// Snapshots counts puts of the whole watched location (db-resume): a
	// stream that could not resume starts again from the location's value
	// instead of the changes.
	Snapshots int64        `json:"snapshots,omitempty"`
	Exact     bool         `json:"exact"`
	Progress  []countPoint `json:"progress"` // events replayed over time
}

// published is the hub's acknowledgement of one event of the resume run.
type published struct {
	id     string
	worker int32 // which publisher sent it; -1 if it failed
}

func (r *runner) resume(ctx context.Context) (*resumeReport, error) {
	k, c := r.cfg.events, r.cfg.concurrency
	rep := &resumeReport{Events: k, Publishers: c}
	if r.cfg.resumeHub != "" {
		rep.ResumedOn = r.resumeAt.spec.Hub
	}
	pubs := r.newPublishers(c)
	defer closePublishers(pubs)

	// The subscriber leaves, and the end marker is published, on the
	// first hub; the missed events are published on every hub.
	lastID, err := r.resumePoint(ctx, pubs[0])
	if err != nil {
		return nil, err
	}
	rep.ResumedFrom = lastID
	r.progressf("subscriber left at %q; publishing %d events", lastID, k)

	events, err := r.publishMissed(ctx, pubs, rep)
	if err != nil {
		return nil, err
	}
	r.progressf("published %d in %.2fs (%.0f/s); resuming on %s", rep.Published, rep.PublishSeconds, rep.PublishRate, r.resumeAt.spec.Hub)
	if err := r.replay(ctx, pubs[0], lastID, events, rep); err != nil {
		return nil, err
	}
	rep.Missing = rep.Published - rep.Received
	rep.Exact = rep.Missing == 0 && rep.Duplicates == 0 && rep.OutOfOrder == 0 && rep.IDMismatch == 0 && rep.Unexpected == 0
	return rep, nil
}

// resumePoint subscribes, publishes a probe, and returns the ID it arrived
// with: the point the subscriber will resume from.
func (r *runner) resumePoint(ctx context.Context, pub *publisher) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	st, err := r.target.subscribe(sctx, subscribeRequest{topic: r.topic, token: r.token})
	cancel()
	if err != nil {
		return "", err
	}
	defer st.close()
	stop := context.AfterFunc(ctx, func() { st.close() })
	defer stop()
	deadline := time.Now().Add(primeLimit)
	var buf []byte
	for time.Now().Before(deadline) {
		buf = appendPayload(buf[:0], payload{sent: time.Now().UnixNano()}, r.cfg.size)
		if _, err := pub.publish(ctx, r.topic, buf); err != nil {
			return "", publishHint(err)
		}
		// A hub may answer the subscription before it takes effect; a probe
		// that does not arrive within a second is published again.
		st.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			id, data, err := st.next()
			if err != nil {
				if ctx.Err() != nil {
					return "", ctx.Err()
				}
				if isTimeout(err) {
					break
				}
				return "", fmt.Errorf("first subscription: %w", err)
			}
			if pl, ok := parsePayload(data); ok && pl.step == 0 && len(id) > 0 {
				return string(id), nil
			}
		}
	}
	return "", fmt.Errorf("the subscriber received no event within %s", primeLimit)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// publishMissed publishes -k events with -c concurrent publishers,
// publisher w on hub w mod their number. Each publisher waits for the
// hub's answer before its next event, so its own events have a known order
// in the journal.
func (r *runner) publishMissed(ctx context.Context, pubs []*publisher, rep *resumeReport) ([]published, error) {
	k := r.cfg.events
	events := make([]published, k+1) // indexed by sequence number, from 1
	var next, done atomic.Int64
	var tally errorTally
	var wg sync.WaitGroup
	started := time.Now()
	stopProgress := r.every(time.Second, func() {
		r.progressf("%d/%d published", done.Load(), k)
	})
	for w := range r.cfg.concurrency {
		wg.Go(func() {
			var buf []byte
			for ctx.Err() == nil {
				s := next.Add(1)
				if s > int64(k) {
					return
				}
				buf = appendPayload(buf[:0], payload{step: 1, seq: uint64(s), sent: time.Now().UnixNano()}, r.cfg.size)
				id, err := pubs[w%len(pubs)].publish(ctx, r.topic, buf)
				if err != nil {
					events[s].worker = -1
					if ctx.Err() == nil {
						tally.add(err)
					}
					continue
				}
				events[s] = published{id: id, worker: int32(w)}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	el := time.Since(started)
	rep.Published, rep.PublishErrors = done.Load(), tally.total.Load()
	rep.PublishSeconds, rep.PublishRate = el.Seconds(), float64(rep.Published)/el.Seconds()
	if rep.Published == 0 {
		return nil, fmt.Errorf("every publish failed: %s", tally.list()[0].Example)
	}
	return events, nil
}

// replay resumes from lastID and checks what the hub replays: every
// published event exactly once, each publisher's events in the order it
// published them. Once all have arrived it publishes an end marker and
// reads up to it, so that a duplicate sent after the last event is seen too.
func (r *runner) replay(ctx context.Context, pub *publisher, lastID string, events []published, rep *resumeReport) error {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	st, err := r.resumeAt.subscribe(sctx, subscribeRequest{topic: r.topic, token: r.token, lastEventID: lastID})
	cancel()
	if err != nil {
		return fmt.Errorf("resuming: %w", err)
	}
	defer st.close()
	stop := context.AfterFunc(ctx, func() { st.close() })
	defer stop()
	rep.HeadersMS = millis(time.Since(began))
	rep.HubLastEventID = st.lastEventID

	rep.Progress = []countPoint{{}}
	seen := make([]bool, len(events))
	lastOfWorker := make([]int, r.cfg.concurrency)
	step := max(rep.Published/100, 1)
	markerSent := false
	var buf []byte
	for {
		// A hub that stops sending for --drain has replayed all it will:
		// what has not arrived by then is missing.
		st.conn.SetReadDeadline(time.Now().Add(r.cfg.drain))
		id, data, err := st.next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isTimeout(err) {
				if markerSent {
					r.notes = append(r.notes, "the end marker never arrived")
				} else {
					r.notes = append(r.notes, fmt.Sprintf("the replay stopped: no event for %s", r.cfg.drain))
				}
				return nil
			}
			return fmt.Errorf("replay: %w", err)
		}
		pl, ok := parsePayload(data)
		switch {
		case ok && pl.step == 2:
			return nil // the end marker: everything before it was checked
		case !ok || pl.step != 1 || pl.seq < 1 || pl.seq >= uint64(len(events)) || events[pl.seq].worker < 0:
			rep.Unexpected++
			continue
		case seen[pl.seq]:
			rep.Duplicates++
			continue
		}
		ev := events[pl.seq]
		seen[pl.seq] = true
		rep.Received++
		if rep.Received == 1 {
			rep.FirstEventMS = millis(time.Since(began))
		}
		if string(id) != ev.id {
			rep.IDMismatch++
		}
		if w := ev.worker; int(pl.seq) < lastOfWorker[w] {
			rep.OutOfOrder++
		} else {
			lastOfWorker[w] = int(pl.seq)
		}
		if rep.Received%step == 0 || rep.Received == rep.Published {
			rep.Progress = append(rep.Progress, countPoint{Seconds: time.Since(began).Seconds(), Count: rep.Received})
		}
		if rep.Received == rep.Published && !markerSent {
			el := time.Since(began)
			rep.LastEventMS = millis(el)
			rep.ReplayRate = float64(rep.Received) / el.Seconds()
			buf = appendPayload(buf[:0], payload{step: 2, sent: time.Now().UnixNano()}, 0)
			if _, err := pub.publish(ctx, r.topic, buf); err != nil {
				return fmt.Errorf("publishing the end marker: %w", err)
			}
			markerSent = true
		}
	}
}

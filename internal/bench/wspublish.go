package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// wsPublishError is a publish the hub refused over WebSocket: its error
// message, with the HTTP status the same request gets over HTTP.
type wsPublishError struct {
	code int
	msg  string
}

func (e *wsPublishError) Error() string {
	return fmt.Sprintf("publish: hub answered error %d: %s", e.code, e.msg)
}

// errAckOrder is an ack whose ref is not that of the oldest publish
// awaiting one: Herald acknowledges a socket's publishes in order.
var errAckOrder = errors.New("publish: ack out of order")

// publishWS runs the publish scenario over WebSockets: -c sockets, each
// pipelining publishes with at most --window of them awaiting their ack;
// with several hubs, socket w to hub w mod their number. Latency runs from
// the write of a publish to the read of its ack.
func (r *runner) publishWS(ctx context.Context) (*publishReport, error) {
	c := r.cfg.concurrency
	pubs := make([]*wsPublisher, 0, c)
	defer func() {
		for _, p := range pubs {
			p.c.close()
		}
	}()
	for w := range c {
		dctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
		conn, err := r.nodes[w%len(r.nodes)].dialWS(dctx, r.token)
		cancel()
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, newWSPublisher(conn, r.topic, r.cfg.window, r.cfg.size))
	}

	var (
		tally   errorTally
		acked   atomic.Int64
		seq     atomic.Uint64
		wg      sync.WaitGroup
		before  = r.probe.sample(ctx)
		started = time.Now()
	)
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.duration)
	defer cancel()
	for _, p := range pubs {
		wg.Go(func() { p.run(runCtx, r.cfg.connectTimeout, &seq, &acked, &tally) })
	}
	stopProgress := r.every(time.Second, func() {
		r.progressf("%d acknowledged, %d errors", acked.Load(), tally.total.Load())
	})
	wg.Wait()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	elapsed := time.Since(started)
	hist := newHistogram()
	for _, p := range pubs {
		hist.merge(p.latency)
	}
	rep := &publishReport{
		Publishers: c, Window: r.cfg.window, Seconds: elapsed.Seconds(),
		Published: acked.Load(), PublishesPerSec: float64(acked.Load()) / elapsed.Seconds(),
		Latency: hist.summary(), Errors: tally.total.Load(), ErrorKinds: tally.list(),
		Server: between(before, r.probe.sample(ctx)),
	}
	rep.HubCPUPerPublish = cpuPer(rep.Server, rep.Published)
	for _, k := range rep.ErrorKinds {
		if k.Kind == fmt.Sprintf("error %d", http.StatusTooManyRequests) {
			r.notes = append(r.notes, "the hub refused publishes for a rate limit (Herald's per-token --publish-rate): run it with --publish-rate 0 to measure its throughput")
		}
	}
	if rep.Published == 0 && rep.Errors > 0 {
		k := rep.ErrorKinds[0]
		if k.Kind == fmt.Sprintf("error %d", http.StatusUnauthorized) || k.Kind == fmt.Sprintf("error %d", http.StatusForbidden) {
			return nil, fmt.Errorf("every publish failed: %s (%s)", k.Example, rightsHint)
		}
		return nil, fmt.Errorf("every publish failed: %s", k.Example)
	}
	return rep, nil
}

// wsPublisher pipelines publishes on one socket: a writer sends them while
// fewer than the window await their ack, a reader takes the acks in order.
type wsPublisher struct {
	c      *wsConn
	prefix []byte        // `,"topics":[...],"data":`
	size   int           // --size
	slots  chan struct{} // a token per publish that may be sent
	hdr    [ws.MaxHeaderSize]byte

	mu       sync.Mutex
	pending  []pendingPublish // sent, awaiting their ack, oldest first
	stopping bool             // the writer is done: the reader ends with the last ack

	latency *histogram // the reader's
}

type pendingPublish struct {
	ref  uint64
	sent int64 // Unix ns
}

func newWSPublisher(c *wsConn, topic string, window, size int) *wsPublisher {
	p := &wsPublisher{c: c, size: size, slots: make(chan struct{}, window), latency: newHistogram()}
	p.prefix = append(p.prefix, `,"topics":[`...)
	p.prefix = appendQuoted(p.prefix, []byte(topic))
	p.prefix = append(p.prefix, `],"data":`...)
	for range window {
		p.slots <- struct{}{}
	}
	return p
}

// errNoAck is a publish never answered: its socket failed, or the hub
// sent no ack within the drain after the run.
var errNoAck = errors.New("publish: no ack")

// run publishes until ctx ends, then waits up to drain for the acks of
// what it sent.
func (p *wsPublisher) run(ctx context.Context, drain time.Duration, seq *atomic.Uint64, acked *atomic.Int64, tally *errorTally) {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		if err := p.read(acked, tally); err != nil {
			tally.add(err)
		}
	}()
	p.write(ctx, seq, readDone)
	p.mu.Lock()
	p.stopping = true
	idle := len(p.pending) == 0
	p.mu.Unlock()
	if !idle {
		select {
		case <-readDone:
		case <-time.After(drain):
		}
	}
	p.c.close()
	<-readDone
	p.mu.Lock()
	for range p.pending {
		tally.add(errNoAck)
	}
	p.mu.Unlock()
}

// write sends publishes, as many in one write as the window has room for,
// until ctx ends or the reader stops.
func (p *wsPublisher) write(ctx context.Context, seq *atomic.Uint64, readDone <-chan struct{}) {
	var out, msg, data []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-readDone:
			return
		case <-p.slots:
		}
		n := 1 + takeSlots(p.slots)
		out = out[:0]
		now := time.Now().UnixNano()
		p.mu.Lock()
		for range n {
			ref := seq.Add(1)
			data = appendPayload(data[:0], payload{step: 1, seq: ref, sent: now}, p.size)
			msg = append(msg[:0], `{"op":"publish","ref":`...)
			msg = strconv.AppendUint(msg, ref, 10)
			msg = append(msg, p.prefix...)
			msg = appendQuoted(msg, data)
			msg = append(msg, '}')
			out = appendFrame(out, p.hdr[:], ws.OpText, msg)
			p.pending = append(p.pending, pendingPublish{ref: ref, sent: now})
		}
		p.mu.Unlock()
		if err := p.c.writeFrames(out); err != nil {
			return
		}
	}
}

// takeSlots takes the free slots left, without waiting, and says how many.
func takeSlots(slots chan struct{}) int {
	for n := 0; ; n++ {
		select {
		case <-slots:
		default:
			return n
		}
	}
}

// read takes acks and errors until the socket fails, or the writer is done
// and every publish is answered (nil).
func (p *wsPublisher) read(acked *atomic.Int64, tally *errorTally) error {
	for {
		msg, err := p.c.readMessage()
		if err != nil {
			p.mu.Lock()
			done := p.stopping
			p.mu.Unlock()
			if done {
				return nil // closed by run; what is unanswered counts as errNoAck
			}
			return err
		}
		var op, reason []byte
		var ref uint64
		hasRef, code := false, uint64(0)
		m := objectMembers(msg)
		for k, v, ok := m.next(); ok; k, v, ok = m.next() {
			switch string(k) {
			case "op":
				op = v
			case "ref":
				_, hasRef = cutNumber(v, "", &ref)
			case "code":
				cutNumber(v, "", &code)
			case "error":
				reason, _ = appendUnquoted(nil, v)
			}
		}
		if !hasRef || (string(op) != `"ack"` && string(op) != `"error"`) {
			continue // a pong, or an error that is not a publish's
		}
		now := time.Now().UnixNano()
		p.mu.Lock()
		if len(p.pending) == 0 || p.pending[0].ref != ref {
			p.mu.Unlock()
			return fmt.Errorf("%w: ref %d", errAckOrder, ref)
		}
		sent := p.pending[0].sent
		p.pending = p.pending[1:]
		last := p.stopping && len(p.pending) == 0
		p.mu.Unlock()
		if string(op) == `"ack"` {
			p.latency.record(time.Duration(now - sent))
			acked.Add(1)
		} else {
			tally.add(&wsPublishError{code: int(code), msg: string(reason)})
		}
		p.slots <- struct{}{}
		if last {
			return nil
		}
	}
}

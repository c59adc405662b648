package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// groupSpec is what one group of subscribers, in this process or in a
// child, is asked to hold.
type groupSpec struct {
	Target targetSpec `json:"target"`
	Token  string     `json:"token,omitempty"`
	Topic  string     `json:"topic"`
	// Transport is how the subscribers receive events ("" is SSE).
	Transport transport `json:"transport,omitempty"`
	// DB, when not empty, makes the subscribers state tree streams
	// (Firebase REST streaming) of the location at this escaped URL path,
	// without .json, instead of subscriptions to Topic. With Spread,
	// subscriber i watches a location of its own, the child
	// spreadKey(First+i) of DB: First numbers the group's subscribers
	// after those of the groups before it.
	DB     string `json:"db,omitempty"`
	Spread bool   `json:"spread,omitempty"`
	First  int    `json:"first,omitempty"`
	// Count subscribers are opened, at most Concurrency connecting at once,
	// each connect attempt bounded by ConnectTimeout.
	Count          int           `json:"count"`
	Concurrency    int           `json:"concurrency"`
	ConnectTimeout time.Duration `json:"connect_timeout"`
	// Goroutines gives each SSE stream a goroutine that reads it, instead
	// of the reactors (--reader goroutines).
	Goroutines bool `json:"goroutines,omitempty"`
}

// groupStatus is a snapshot of a group's counters; groups' statuses add up.
type groupStatus struct {
	Attempted     int64 `json:"attempted"`      // first connects finished, either way
	Connected     int64 `json:"connected"`      // streams open now
	EverConnected int64 `json:"ever_connected"` // subscribers whose first connect succeeded
	Failed        int64 `json:"failed"`         // subscribers whose first connect failed
	Drops         int64 `json:"drops"`          // streams that ended while the run went on
	Reconnects    int64 `json:"reconnects"`     // successful reconnects (with Last-Event-ID)
	Primed        int64 `json:"primed"`         // subscribers that have received an event
	Received      int64 `json:"received"`       // deliveries counted in some step
	Late          int64 `json:"late"`           // deliveries after their step was collected
	Foreign       int64 `json:"foreign"`        // events that were not the bench's
	// ConnectStart and ConnectEnd (Unix ns) bracket the first connects: the
	// first attempt started, the last response headers arrived.
	ConnectStart int64  `json:"connect_start"`
	ConnectEnd   int64  `json:"connect_end"`
	FirstError   string `json:"first_error,omitempty"`
}

func (s *groupStatus) add(o groupStatus) {
	s.Attempted += o.Attempted
	s.Connected += o.Connected
	s.EverConnected += o.EverConnected
	s.Failed += o.Failed
	s.Drops += o.Drops
	s.Reconnects += o.Reconnects
	s.Primed += o.Primed
	s.Received += o.Received
	s.Late += o.Late
	s.Foreign += o.Foreign
	if o.ConnectStart != 0 && (s.ConnectStart == 0 || o.ConnectStart < s.ConnectStart) {
		s.ConnectStart = o.ConnectStart
	}
	s.ConnectEnd = max(s.ConnectEnd, o.ConnectEnd)
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
}

// stepResult is what a group measured for one step of a run.
type stepResult struct {
	Step       int        `json:"step"`
	Delivered  int64      `json:"delivered"`
	Duplicates int64      `json:"duplicates"` // a sequence number at or below one already seen
	LastRecv   int64      `json:"last_recv"`  // Unix ns of the last counted delivery
	Latency    *histogram `json:"latency"`
	// Polls counts the long polls whose answer began with an event of the
	// step; PollRoundTrip has the round trip (request sent to answer read)
	// of those the hub answered at once, their first event having been
	// published before the poll was sent. Only pollers have them.
	Polls         int64      `json:"polls,omitempty"`
	PollRoundTrip *histogram `json:"poll_round_trip,omitempty"`
}

func (r *stepResult) add(o stepResult) {
	r.Delivered += o.Delivered
	r.Duplicates += o.Duplicates
	r.LastRecv = max(r.LastRecv, o.LastRecv)
	r.Latency.merge(o.Latency)
	r.Polls += o.Polls
	if o.PollRoundTrip != nil {
		if r.PollRoundTrip == nil {
			r.PollRoundTrip = newHistogram()
		}
		r.PollRoundTrip.merge(o.PollRoundTrip)
	}
}

// groupResult is what a group reports when it is finished.
type groupResult struct {
	Status  groupStatus `json:"status"`
	Connect *histogram  `json:"connect"` // time from dial to response headers
}

// histShards spreads latency recording over several locks: every subscriber
// receives an event at about the same moment and would otherwise queue on one.
const histShards = 16

// stepStats accumulates one step's deliveries in a group. Each shard counts
// under its own lock, and collect closes every shard under that lock, so a
// delivery is counted either in its step or as late, never lost in between.
type stepStats struct {
	shards [histShards]stepShard
}

type stepShard struct {
	mu         sync.Mutex
	closed     bool
	delivered  int64
	duplicates int64
	lastRecv   int64
	h          *histogram
	polls      int64
	roundTrip  *histogram // made at the first poll: only pollers need it
}

func newStepStats() *stepStats {
	s := &stepStats{}
	for i := range s.shards {
		s.shards[i].h = newHistogram()
	}
	return s
}

// pool holds one group of subscribers in this process.
type pool struct {
	spec   groupSpec
	target *target
	// parse reads the bench's payload in an event's data.
	parse  func([]byte) (payload, bool)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// readers read the SSE streams (nil: a goroutine reads each).
	readers *readers

	attempted, connected, everConnected, failed atomic.Int64
	drops, reconnects, primed, received         atomic.Int64
	late, foreign                               atomic.Int64
	connectStart, connectEnd                    atomic.Int64

	mu         sync.Mutex
	firstError string
	connect    *histogram
	steps      map[int]*stepStats
	collected  int // steps up to this one have been collected
}

// startPool opens spec.Count subscribers in the background and returns at
// once; status reports progress.
func startPool(spec groupSpec) (*pool, error) {
	t, err := newTarget(spec.Target)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{
		spec: spec, target: t, parse: parsePayload, ctx: ctx, cancel: cancel,
		connect: newHistogram(), steps: map[int]*stepStats{},
	}
	if spec.DB != "" {
		p.parse = parseDBEvent
	}
	if (spec.Transport == "" || spec.Transport == transportSSE) && !spec.Goroutines {
		// Without reactors (another OS), a goroutine reads each stream.
		p.readers, _ = newReaders(ctx)
	}
	p.connectStart.Store(time.Now().UnixNano())
	sem := make(chan struct{}, max(spec.Concurrency, 1))
	p.wg.Add(spec.Count)
	for i := range spec.Count {
		go p.runSubscriber(i, sem)
	}
	return p, nil
}

// subscriber is the state of one subscriber, owned by its goroutine.
type subscriber struct {
	index     int
	lastID    []byte
	maxSeq    uint64
	primed    bool
	stepNum   int
	stepStats *stepStats
}

func (p *pool) runSubscriber(i int, sem chan struct{}) {
	defer p.wg.Done()
	sub := &subscriber{index: i}
	select {
	case sem <- struct{}{}:
	case <-p.ctx.Done():
		return
	}
	began := time.Now()
	st, err := p.open(sub)
	<-sem
	p.attempted.Add(1)
	if err != nil {
		if p.ctx.Err() == nil {
			p.failed.Add(1)
			p.noteError(err)
		}
		return
	}
	now := time.Now()
	p.everConnected.Add(1)
	storeMax(&p.connectEnd, now.UnixNano())
	p.mu.Lock()
	p.connect.record(now.Sub(began))
	p.mu.Unlock()

	backoff := 50 * time.Millisecond
	for {
		err := p.consume(st, sub)
		st.close()
		p.connected.Add(-1)
		if p.ctx.Err() != nil {
			return
		}
		p.drops.Add(1)
		p.noteError(err)
		// Reconnect as an EventSource would, resuming after the last event
		// seen, so that the hub's journal can make the drop invisible; but
		// sooner than the hub's retry hint, so that a drop disturbs the
		// measurement as little as it can.
		for {
			select {
			case <-time.After(backoff):
			case <-p.ctx.Done():
				return
			}
			if st, err = p.open(sub); err == nil {
				p.reconnects.Add(1)
				backoff = 50 * time.Millisecond
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			p.noteError(err)
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// open subscribes, resuming after sub's last event if it has seen one, or
// else from where the hub said its first subscription stood.
func (p *pool) open(sub *subscriber) (feed, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.spec.ConnectTimeout)
	defer cancel()
	req := subscribeRequest{topic: p.spec.Topic, token: p.spec.Token, lastEventID: string(sub.lastID)}
	var f feed
	var err error
	switch {
	case p.spec.DB == "":
		f, err = p.target.open(ctx, p.spec.Transport, req)
	case p.spec.Spread:
		req.path = p.spec.DB + "/" + spreadKey(p.spec.First+sub.index) + ".json"
		f, err = p.target.openDB(ctx, req)
	default:
		req.path = p.spec.DB + ".json"
		f, err = p.target.openDB(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if len(sub.lastID) == 0 {
		sub.lastID = append(sub.lastID, f.cursor()...)
	}
	p.connected.Add(1)
	return f, nil
}

// consume reads events until the feed ends or the pool stops. An SSE
// stream is read by the pool's reactors, when it has them and they can.
func (p *pool) consume(f feed, sub *subscriber) error {
	if st, ok := f.(*stream); ok && p.readers != nil {
		ended, stop, err := p.readers.read(st, func(id, data []byte, now int64) {
			p.deliver(sub, id, data, now, pollTrip{})
		})
		if err == nil {
			defer context.AfterFunc(p.ctx, stop)()
			return <-ended
		}
		if !errors.Is(err, errNotDetachable) {
			return err
		}
	}
	stop := context.AfterFunc(p.ctx, func() { f.close() })
	defer stop()
	poll, _ := f.(*poller)
	for {
		id, data, err := f.next()
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		var rt pollTrip
		if poll != nil {
			rt = poll.roundTrip()
		}
		p.deliver(sub, id, data, now, rt)
	}
}

// deliver counts an event sub received at now (unix nanoseconds); rt is
// the poll that brought it, for a poller.
func (p *pool) deliver(sub *subscriber, id, data []byte, now int64, rt pollTrip) {
	if len(id) > 0 {
		sub.lastID = append(sub.lastID[:0], id...)
	}
	if !sub.primed {
		sub.primed = true
		p.primed.Add(1)
	}
	pl, ok := p.parse(data)
	if !ok {
		p.foreign.Add(1)
		return
	}
	if pl.step == 0 {
		return // a readiness probe
	}
	stats := sub.stepStats
	if pl.step != sub.stepNum || stats == nil {
		if stats = p.stats(pl.step); stats == nil {
			p.late.Add(1)
			return
		}
		sub.stepNum, sub.stepStats = pl.step, stats
	}
	p.count(stats, sub, pl, now)
	if rt.first {
		countPoll(stats, sub, rt, pl)
	}
}

// countPoll records in its step the poll whose answer began with pl.
func countPoll(stats *stepStats, sub *subscriber, rt pollTrip, pl payload) {
	sh := &stats.shards[sub.index%histShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return
	}
	sh.polls++
	if pl.sent < rt.sent {
		if sh.roundTrip == nil {
			sh.roundTrip = newHistogram()
		}
		sh.roundTrip.record(time.Duration(rt.answered - rt.sent))
	}
}

// count records one bench event in its step.
func (p *pool) count(stats *stepStats, sub *subscriber, pl payload, now int64) {
	sh := &stats.shards[sub.index%histShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case sh.closed:
		p.late.Add(1)
	case pl.seq <= sub.maxSeq:
		sh.duplicates++
	default:
		sub.maxSeq = pl.seq
		sh.delivered++
		sh.lastRecv = max(sh.lastRecv, now)
		sh.h.record(time.Duration(now - pl.sent))
		p.received.Add(1)
	}
}

// stats returns the accumulator of a step, or nil once it was collected.
func (p *pool) stats(step int) *stepStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if step <= p.collected {
		return nil
	}
	s := p.steps[step]
	if s == nil {
		s = newStepStats()
		p.steps[step] = s
	}
	return s
}

// collect returns what the group measured for step, together with any
// earlier step not yet collected (the parent collects every step in turn, so
// there is none); deliveries to them that arrive later count as late.
func (p *pool) collect(step int) stepResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := stepResult{Step: step, Latency: newHistogram()}
	for n, s := range p.steps {
		if n > step {
			continue
		}
		delete(p.steps, n)
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			sh.closed = true
			r.Delivered += sh.delivered
			r.Duplicates += sh.duplicates
			r.LastRecv = max(r.LastRecv, sh.lastRecv)
			r.Latency.merge(sh.h)
			r.Polls += sh.polls
			if sh.roundTrip != nil {
				if r.PollRoundTrip == nil {
					r.PollRoundTrip = newHistogram()
				}
				r.PollRoundTrip.merge(sh.roundTrip)
			}
			sh.mu.Unlock()
		}
	}
	p.collected = max(p.collected, step)
	return r
}

func (p *pool) status() groupStatus {
	p.mu.Lock()
	firstError := p.firstError
	p.mu.Unlock()
	return groupStatus{
		Attempted:     p.attempted.Load(),
		Connected:     p.connected.Load(),
		EverConnected: p.everConnected.Load(),
		Failed:        p.failed.Load(),
		Drops:         p.drops.Load(),
		Reconnects:    p.reconnects.Load(),
		Primed:        p.primed.Load(),
		Received:      p.received.Load(),
		Late:          p.late.Load(),
		Foreign:       p.foreign.Load(),
		ConnectStart:  p.connectStart.Load(),
		ConnectEnd:    p.connectEnd.Load(),
		FirstError:    firstError,
	}
}

// finish closes every subscription and reports.
func (p *pool) finish() groupResult {
	p.cancel()
	p.wg.Wait()
	if p.readers != nil {
		p.readers.wait()
	}
	st := p.status()
	p.mu.Lock()
	defer p.mu.Unlock()
	return groupResult{Status: st, Connect: p.connect}
}

func (p *pool) noteError(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	p.mu.Lock()
	if p.firstError == "" {
		p.firstError = err.Error()
	}
	p.mu.Unlock()
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

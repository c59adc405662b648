package jetstream

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
)

const (
	// followBuffer is how many events a follower may read ahead of its
	// consumer; a slower consumer holds the follower back, and it reads on
	// from where it stopped.
	followBuffer = 256
	// followPoll is how often an idle follower looks whether the stream
	// has grown, and a blocked one whether the journal has closed.
	followPoll = 2 * time.Millisecond
	// heartbeat is how often an idle tail consumer says it is there; one
	// silent for staleAfter is checked, and made again if it is gone.
	heartbeat  = 500 * time.Millisecond
	staleAfter = 3 * heartbeat
	// consumerIdle is how long the server keeps a tail consumer that
	// nobody listens to, the journal's process gone without Close.
	consumerIdle = 30 * time.Second
)

// Follow returns every event stored by any node with Seq > after, in
// order, starting with the retained ones, until ctx ends, the journal
// closes or its stream is gone; then it closes the channel.
//
// A follower reads the stream, in batches, from the last position it
// delivered up to the newest one known to be stored, which grows with the
// acknowledgements of this journal's appends and with what the tail
// consumer reports of the others'. Nothing is pushed to it: a slow
// consumer holds up nothing but its own follower, and a follower whose
// reads fail (a server restarting, a leader being elected) reads again
// from the same position, after a back-off, until they succeed, so that it
// survives a restart or a failover without gap or duplicate.
//
// An idle follower looks at the newest position every followPoll rather
// than waiting to be woken: what would wake it is the connection's
// goroutine, and a follower may run in a testing/synctest bubble, where
// such a wake-up is a fatal error and a wait for one keeps the bubble's
// clock from moving.
func (j *Journal) Follow(ctx context.Context, after uint64) (<-chan *journal.Event, error) {
	return j.startFollow(ctx, after, "")
}

// FollowKeyed is Follow for the events queued with a key (see
// [journal.Keyed]) and no others, which it does not read: a follower
// that needs only those costs the stream's servers only them. When it
// has read up to a position with none after the last it delivered, it
// delivers an Event with only Seq set, a marker that every keyed event
// up to Seq has been delivered.
func (j *Journal) FollowKeyed(ctx context.Context, after uint64) (<-chan *journal.Event, error) {
	return j.startFollow(ctx, after, j.subj.keyed())
}

// startFollow starts a follower of the events on subjects that filter
// matches ("": all of them).
func (j *Journal) startFollow(ctx context.Context, after uint64, filter string) (<-chan *journal.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := j.usable(); err != nil {
		return nil, err
	}
	out := make(chan *journal.Event, followBuffer)
	j.followers.Add(1)
	go j.follow(ctx, after, out, filter)
	return out, nil
}

// follow delivers the events with Seq > after on subjects that filter
// matches ("": all of them) to out, and, with a filter, a marker (an
// Event with only Seq) for each range read with none.
func (j *Journal) follow(ctx context.Context, after uint64, out chan<- *journal.Event, filter string) {
	defer j.followers.Done()
	defer close(out)
	poll := time.NewTimer(followPoll)
	defer poll.Stop()
	// sleep waits for d, and reports whether the follower is to go on.
	sleep := func(d time.Duration) bool {
		poll.Reset(d)
		select {
		case <-poll.C:
			return j.usable() == nil
		case <-ctx.Done():
			return false
		}
	}
	batch := make([]*journal.Event, 0, readBatch)
	var delay time.Duration
	for j.usable() == nil && ctx.Err() == nil {
		until := j.known.Load()
		if filter != "" {
			// tailSeen before mayKeyed: the tail consumer raises them the
			// other way round.
			seen := j.tailSeen.Load()
			if j.mayKeyed.Load() <= after {
				// No keyed event after the last delivered, up to seen:
				// nothing to read there, only a marker to give.
				if seen = min(seen, until); seen > after {
					after = seen
					if !j.send(ctx, out, &journal.Event{Seq: seen}, poll) {
						return
					}
				}
				if !sleep(followPoll) {
					return
				}
				continue
			}
		}
		if after >= until {
			if !sleep(followPoll) {
				return
			}
			continue
		}
		var err error
		batch, err = j.events(ctx, after, until, batch[:0], filter)
		if err != nil {
			delay = min(max(2*delay, 20*time.Millisecond), 2*time.Second)
			if ctx.Err() == nil && j.usable() == nil {
				j.log.Warn("journal: a follower cannot read; trying again", "stream", j.opts.Stream, "after", after, "in", delay, "err", err)
			}
			if !sleep(delay) {
				return
			}
			continue
		}
		delay = 0
		rest := false
		if len(batch) == 0 {
			after = until
			if filter == "" {
				continue
			}
			// None matched: say how far the follower has read, and look
			// again after followPoll rather than chase every position
			// that other events take, at a few requests each.
			batch, rest = append(batch, &journal.Event{Seq: until}), true
		}
		for _, ev := range batch {
			if !j.send(ctx, out, ev, poll) {
				return
			}
			after = ev.Seq
		}
		clear(batch)
		if rest && !sleep(followPoll) {
			return
		}
	}
}

// send gives ev to a follower's consumer, waiting for it when it is
// behind, and looking now and then, with poll, whether the journal has
// closed. It reports whether the follower is to go on.
func (j *Journal) send(ctx context.Context, out chan<- *journal.Event, ev *journal.Event, poll *time.Timer) bool {
	select {
	case out <- ev:
		return true
	default:
	}
	for {
		poll.Reset(followPoll)
		select {
		case out <- ev:
			return true
		case <-poll.C:
			if j.usable() != nil {
				return false
			}
		case <-ctx.Done():
			return false
		}
	}
}

// runTail keeps a tail consumer on the stream for as long as the journal
// is open: an ephemeral push consumer that delivers only the headers of
// each new message, from which the journal learns the positions that
// other nodes store (see Journal.known). It makes the consumer again,
// from the last position known, when one reports a gap or falls silent
// and is gone (a server restarted, the connection moved).
func (j *Journal) runTail() {
	defer j.goroutines.Done()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	var c *tailConsumer
	defer func() { c.stop() }()
	var delay time.Duration
	for {
		if c == nil {
			var err error
			if c, err = j.startTail(); err != nil {
				delay = min(max(2*delay, 50*time.Millisecond), 2*time.Second)
				j.log.Warn("journal: cannot make the tail consumer; trying again", "stream", j.opts.Stream, "in", delay, "err", err)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
					continue
				case <-j.closing:
				case <-j.gone:
				}
				t.Stop()
				return
			}
			delay = 0
		}
		select {
		case <-j.closing:
			return
		case <-j.gone:
			return
		case <-c.gap:
			j.log.Info("journal: the tail consumer missed messages or is gone; making it again", "stream", j.opts.Stream)
		case <-tick.C:
			// After a reconnect the consumer may be gone with its server:
			// check at once rather than wait for it to fall silent.
			reconnected := j.nc.Stats().Reconnects != c.reconnects
			if !reconnected && time.Since(time.Unix(0, c.seen.Load())) < staleAfter {
				continue
			}
			if c.alive() {
				c.reconnects = j.nc.Stats().Reconnects
				continue
			}
			j.log.Info("journal: the tail consumer is gone; making it again", "stream", j.opts.Stream)
		}
		c.stop()
		c = nil
	}
}

// tailConsumer is one instance of the tail consumer.
type tailConsumer struct {
	j    *Journal
	name string
	sub  *nats.Subscription
	// delivered is the last consumer sequence received; only the
	// subscription's goroutine writes it after start.
	delivered atomic.Uint64
	// seen is when anything last came from the consumer (Unix ns).
	seen atomic.Int64
	// gap is signaled when a message went missing, or the consumer with
	// it.
	gap chan struct{}
	// reconnects is the connection's count of reconnections when the
	// consumer was last known to be there.
	reconnects uint64
}

// startTail checks that the stream is still the journal's, then makes a
// tail consumer that starts after the newest position known.
func (j *Journal) startTail() (*tailConsumer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.opts.Timeout)
	defer cancel()
	info, err := j.info(ctx)
	if err != nil {
		return nil, err
	}
	j.advance(info.State.LastSeq)
	// The consumer starts after known: the positions before it that no
	// tail consumer reported may hold keyed events.
	start := j.known.Load()
	raise(&j.mayKeyed, start)
	raise(&j.tailSeen, start)
	c := &tailConsumer{j: j, gap: make(chan struct{}, 1), reconnects: j.nc.Stats().Reconnects}
	c.seen.Store(time.Now().UnixNano())
	deliver := j.nc.NewInbox()
	if c.sub, err = j.nc.Subscribe(deliver, c.handle); err != nil {
		return nil, err
	}
	req := struct {
		Stream string                `json:"stream_name"`
		Config natsjs.ConsumerConfig `json:"config"`
	}{
		Stream: j.opts.Stream,
		Config: natsjs.ConsumerConfig{
			Description:       "Herald journal tail",
			DeliverPolicy:     natsjs.DeliverByStartSequencePolicy,
			OptStartSeq:       start + 1,
			AckPolicy:         natsjs.AckNonePolicy,
			DeliverSubject:    deliver,
			FlowControl:       true,
			IdleHeartbeat:     heartbeat,
			HeadersOnly:       true,
			MemoryStorage:     true,
			Replicas:          1,
			InactiveThreshold: consumerIdle,
		},
	}
	var resp natsjs.ConsumerInfo
	if err := j.replies.api(ctx, j.api+"CONSUMER.CREATE."+j.opts.Stream, req, &resp, j.opts.Timeout); err != nil {
		c.sub.Unsubscribe()
		return nil, err
	}
	c.name = resp.Name
	return c, nil
}

// handle takes what the consumer delivers: headers of a message, a
// heartbeat or a flow control request.
func (c *tailConsumer) handle(m *nats.Msg) {
	c.seen.Store(time.Now().UnixNano())
	switch m.Header.Get(hdrStatus) {
	case "":
	case "100":
		if m.Reply != "" {
			// Flow control: the server waits for this answer.
			_ = m.Respond(nil)
			return
		}
		// A heartbeat of a consumer whose flow control request went
		// unanswered (lost with a connection) names where the answer
		// is awaited: without it the consumer sends nothing more.
		if stalled := m.Header.Get("Nats-Consumer-Stalled"); stalled != "" {
			_ = c.j.nc.Publish(stalled, nil)
		}
		// A heartbeat tells the last consumer sequence sent.
		if last, err := strconv.ParseUint(m.Header.Get("Nats-Last-Consumer"), 10, 64); err == nil && last > c.delivered.Load() {
			c.missed()
		}
		return
	default:
		// The consumer was deleted, or the server has something else
		// against it: make another.
		c.missed()
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	if meta.Sequence.Consumer != c.delivered.Load()+1 {
		c.missed()
		return
	}
	c.delivered.Store(meta.Sequence.Consumer)
	seq := meta.Sequence.Stream
	c.j.advance(seq)
	if c.j.subj.isKeyed(m.Subject) {
		raise(&c.j.mayKeyed, seq)
	}
	raise(&c.j.tailSeen, seq)
}

func (c *tailConsumer) missed() {
	select {
	case c.gap <- struct{}{}:
	default:
	}
}

// alive asks whether the consumer still exists and has sent nothing that
// was not received.
func (c *tailConsumer) alive() bool {
	j := c.j
	ctx, cancel := context.WithTimeout(context.Background(), j.opts.Timeout)
	defer cancel()
	var info natsjs.ConsumerInfo
	err := j.replies.api(ctx, j.api+"CONSUMER.INFO."+j.opts.Stream+"."+c.name, nil, &info, j.opts.Timeout)
	return err == nil && info.Delivered.Consumer <= c.delivered.Load()
}

// stop ends the subscription and deletes the consumer, as far as the
// server answers; one it does not delete goes after consumerIdle.
func (c *tailConsumer) stop() {
	if c == nil {
		return
	}
	_ = c.sub.Unsubscribe()
	j := c.j
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = j.replies.api(ctx, j.api+"CONSUMER.DELETE."+j.opts.Stream+"."+c.name, nil, nil, time.Second)
}

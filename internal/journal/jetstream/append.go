package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
)

// publisher is the journal's publishing side. Appends are pipelined:
// Queue publishes the event at once, with a reply subject, and returns;
// the acknowledgement arrives on the journal's reply subscription and
// completes the wait. The package documentation tells why the events are
// stored in the order of the Queue calls, and how an append whose
// acknowledgement was lost is resolved.
type publisher struct {
	j *Journal
	// slots has room for MaxPending appends in flight; each holds one.
	slots chan struct{}
	// nonce names this journal's publishes in the stream (Herald-Pub).
	nonce string
	// drained is closed once the journal is closed and no append is
	// in flight.
	drained chan struct{}

	mu     sync.Mutex
	closed bool
	next   uint64 // publishes sent
	// inflight holds the appends sent, in the order sent, from head on;
	// those before stamped have a seen time. Completed ones go once they
	// reach the head.
	inflight []*publish
	head     int
	stamped  int
	// pending counts the appends not yet completed.
	pending int
}

// publish is one append in flight.
type publish struct {
	p     *publisher
	token string
	pub   string // the Herald-Pub header
	hasID bool   // the publisher chose the ID
	keyed bool   // queued with a key
	guard bool   // stored only if its key's last event is the one expected
	// after is the newest position known when the event was sent: if
	// stored, the event is after it.
	after uint64
	// at is the event's time (Herald-Time).
	at time.Time
	// seen is when the expiry first saw the publish in flight, by its
	// own clock; p.mu guards it.
	seen time.Time
	done *signal

	once sync.Once
	seq  uint64 // set before done
}

func (p *publisher) init(j *Journal) {
	p.j = j
	p.slots = make(chan struct{}, j.opts.MaxPending)
	p.nonce = journal.NewEpoch()
	p.drained = make(chan struct{})
}

// Append stores ev, sets ev.Seq, ev.Time and, when empty, ev.ID, and
// returns once JetStream has acknowledged it (with replicas, once a
// quorum of them has it). A reserved ID is refused with an error wrapping
// ErrReservedID, one held by a retained event with ErrDuplicateID.
//
// An append that JetStream could not take (see [ErrUnavailable]) is tried
// again, after a short back-off, until ctx ends; Append then returns
// ctx's error, also wrapping ErrUnavailable. Once the event is sent,
// Append waits for its outcome whatever ctx does, so an error from ctx
// always means the event was not stored.
func (j *Journal) Append(ctx context.Context, ev *journal.Event) error {
	delay := 10 * time.Millisecond
	for {
		wait, err := j.Queue(ctx, ev)
		if err == nil {
			err = wait()
		}
		if !errors.Is(err, ErrUnavailable) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-j.closing:
			t.Stop()
			return journal.ErrClosed
		}
		delay = min(2*delay, time.Second)
	}
}

// Queue is Append in two steps, without its retries: it sends ev to the
// stream and returns, and wait waits for the acknowledgement and sets
// ev's fields as Append does. Events are stored in the order of the Queue
// calls that returned (see "Order" in the package documentation): a
// caller that queues under its own lock fixes the order of its events
// without holding the lock for a round trip. ev must not change until
// wait returns.
//
// Queue waits for room when Options.MaxPending appends are in flight, and
// fails with ErrUnavailable, at once, while the connection is down. Once
// queued, the event is sent: ctx can no longer stop it.
func (j *Journal) Queue(ctx context.Context, ev *journal.Event) (wait func() error, err error) {
	if err := journal.CheckReservedID(ev.ID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := j.usable(); err != nil {
		return nil, err
	}
	return j.queue(ctx, ev, nil)
}

// QueueKeyed is Queue for an event of key (see [journal.Keyed]): the
// event is a message on a subject of the key's, and with last not nil it
// is stored only if the stream's last message on that subject is at *last
// (Nats-Expected-Last-Subject-Sequence), the check made by the stream's
// leader as it stores; otherwise wait returns journal.ErrKeyMoved.
func (j *Journal) QueueKeyed(ctx context.Context, ev *journal.Event, key string, last *uint64) (wait func() error, err error) {
	if ev.ID != "" {
		return nil, errors.New("journal/jetstream: an event queued with a key has no publisher-chosen ID")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := j.usable(); err != nil {
		return nil, err
	}
	return j.queue(ctx, ev, &keyed{subject: j.subj.key(key), last: last})
}

// LastOfKey returns the position of the newest retained event of key,
// as the stream's leader tells it; 0 when none is.
func (j *Journal) LastOfKey(ctx context.Context, key string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := j.usable(); err != nil {
		return 0, err
	}
	rec, found, err := j.get(ctx, msgGetRequest{LastFor: j.subj.key(key)})
	if err != nil || !found {
		return 0, err
	}
	// The leader stores it: a keyed follower may read up to it at once,
	// without waiting for the tail consumer's news.
	raise(&j.mayKeyed, rec.seq)
	j.advance(rec.seq)
	return rec.seq, nil
}

// queue sends ev, with its key if k is not nil, and returns its wait.
func (j *Journal) queue(ctx context.Context, ev *journal.Event, k *keyed) (wait func() error, err error) {
	p, err := j.pub.send(ctx, ev, k)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := p.done.wait(); err != nil {
			return err
		}
		ev.Seq, ev.Time = p.seq, p.at
		if ev.ID == "" {
			ev.ID = journal.FormatID(j.epoch, p.seq)
		}
		return nil
	}, nil
}

// send publishes ev and returns its publish, in flight.
func (p *publisher) send(ctx context.Context, ev *journal.Event, k *keyed) (*publish, error) {
	j := p.j
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-j.closing:
		return nil, journal.ErrClosed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		<-p.slots
		return nil, journal.ErrClosed
	}
	if status := j.nc.Status(); status != nats.CONNECTED {
		<-p.slots
		return nil, fmt.Errorf("%w: connection %v", ErrUnavailable, status)
	}
	p.next++
	pb := &publish{
		p:     p,
		pub:   p.nonce + "-" + strconv.FormatUint(p.next, 36),
		hasID: ev.ID != "",
		keyed: k != nil,
		guard: k != nil && k.last != nil,
		after: j.known.Load(),
		// Without the monotonic reading: the time read back has none,
		// and the two must be equal.
		at:   time.Unix(0, time.Now().UnixNano()),
		done: newSignal(),
	}
	msg := encode(j.subj, ev, k, j.epoch, pb.pub, pb.at)
	pb.token, msg.Reply = j.replies.register(pb)
	if err := j.nc.PublishMsg(msg); err != nil {
		j.replies.forget(pb.token)
		<-p.slots
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, fmt.Errorf("journal/jetstream: event too large: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p.pending++
	p.trim()
	p.inflight = append(p.inflight, pb)
	return pb, nil
}

// trim forgets the completed appends at the head of inflight, which,
// acknowledgements coming in order, are most of them. p.mu must be held.
func (p *publisher) trim() {
	for p.head < len(p.inflight) && p.inflight[p.head].done.isSet.Load() {
		p.inflight[p.head] = nil
		p.head++
	}
	p.stamped = max(p.stamped, p.head)
	if p.head > len(p.inflight)/2 {
		n := copy(p.inflight, p.inflight[p.head:])
		clear(p.inflight[n:])
		p.inflight, p.stamped, p.head = p.inflight[:n], p.stamped-p.head, 0
	}
}

// reply takes the acknowledgement of the publish.
func (pb *publish) reply(m *nats.Msg) bool {
	seq, err := pb.p.j.parseAck(pb, m)
	pb.complete(seq, err)
	return true
}

// parseAck returns the position an acknowledgement gives, or the error
// it reports.
func (j *Journal) parseAck(pb *publish, m *nats.Msg) (uint64, error) {
	if len(m.Data) == 0 && m.Header.Get(hdrStatus) == "503" {
		return 0, fmt.Errorf("%w: no stream leader took the event", ErrUnavailable)
	}
	// Decoded once, error and all: this is every append's path.
	var ack struct {
		Error  *natsjs.APIError `json:"error"`
		Stream string           `json:"stream"`
		Seq    uint64           `json:"seq"`
	}
	var err error
	if jerr := json.Unmarshal(m.Data, &ack); jerr != nil {
		err = fmt.Errorf("journal/jetstream: bad JetStream response: %w", jerr)
	} else if ack.Error != nil {
		err = ack.Error
	}
	switch code := apiCode(err); {
	case pb.hasID && (code == natsjs.JSErrCodeStreamWrongLastSequence || code == jsErrCodeWrongLastSequenceConstant):
		return 0, journal.ErrDuplicateID
	case pb.guard && (code == natsjs.JSErrCodeStreamWrongLastSequence || code == jsErrCodeWrongLastSequenceConstant):
		return 0, journal.ErrKeyMoved
	case err != nil:
		if u := unavailable(err); u != err {
			return 0, u
		}
		return 0, fmt.Errorf("journal/jetstream: the stream refused the event: %w", err)
	case ack.Stream != j.opts.Stream || ack.Seq == 0:
		return 0, fmt.Errorf("journal/jetstream: acknowledged as %d in stream %q, not %q", ack.Seq, ack.Stream, j.opts.Stream)
	}
	return ack.Seq, nil
}

// jsErrCodeWrongLastSequenceConstant is the code of "wrong last
// sequence" without the sequence, which a clustered stream answers to a
// message whose subject has another message in flight.
const jsErrCodeWrongLastSequenceConstant natsjs.ErrorCode = 10164

// complete sets the outcome of the publish, once, and frees its slot.
func (pb *publish) complete(seq uint64, err error) {
	pb.once.Do(func() {
		p := pb.p
		pb.seq = seq
		pb.done.set(err)
		p.j.replies.forget(pb.token)
		if err == nil {
			if pb.keyed {
				// Before known: a keyed follower reads it at once,
				// rather than once the tail consumer reports it.
				raise(&p.j.mayKeyed, seq)
			}
			p.j.advance(seq)
		}
		<-p.slots
		p.mu.Lock()
		p.pending--
		if p.pending == 0 && p.closed {
			close(p.drained)
		}
		p.mu.Unlock()
	})
}

// run expires the appends whose acknowledgement is overdue and resolves
// them, until the journal closes; it then fails those still in flight.
// It keeps time by its own clock, not by the appenders': those may run in
// a testing/synctest bubble.
func (p *publisher) run() {
	j := p.j
	defer j.goroutines.Done()
	tick := time.NewTicker(max(j.opts.Timeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			if due := p.overdue(now); len(due) > 0 {
				p.resolveBatch(due)
			}
		case <-j.closing:
			p.mu.Lock()
			left := slices.Clone(p.inflight[p.head:])
			p.mu.Unlock()
			for _, pb := range left {
				pb.complete(0, errClosedUnknown)
			}
			return
		}
	}
}

// errClosedUnknown is the outcome of an append in flight when the journal
// closed: it may be stored or not.
var errClosedUnknown = fmt.Errorf("%w before the append was acknowledged; it may be stored", journal.ErrClosed)

// overdue returns the appends in flight for Options.Timeout since it
// first saw them, and forgets them and the completed ones.
func (p *publisher) overdue(now time.Time) []*publish {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pb := range p.inflight[p.stamped:] {
		pb.seen = now
	}
	p.stamped = len(p.inflight)
	var due []*publish
	for ; p.head < len(p.inflight); p.head++ {
		pb := p.inflight[p.head]
		if !pb.done.isSet.Load() {
			if now.Sub(pb.seen) < p.j.opts.Timeout {
				break
			}
			due = append(due, pb)
		}
		p.inflight[p.head] = nil
	}
	p.trim()
	return due
}

// drain refuses further appends and waits, up to timeout, for the ones in
// flight to complete.
func (p *publisher) drain(timeout time.Duration) {
	p.mu.Lock()
	p.closed = true
	if p.pending == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.drained:
	case <-t.C:
	}
}

// resolveBatch finds out whether the events of batch were stored, trying
// again while JetStream cannot answer, until it can or the journal
// closes.
func (p *publisher) resolveBatch(batch []*publish) {
	j := p.j
	delay := 50 * time.Millisecond
	for {
		err := p.tryResolve(batch)
		if err == nil {
			return
		}
		j.log.Warn("journal: cannot find out yet whether unacknowledged appends were stored", "stream", j.opts.Stream, "appends", len(batch), "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-j.closing:
			t.Stop()
			for _, pb := range batch {
				pb.complete(0, errClosedUnknown)
			}
			return
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// tryResolve looks for the events of batch in the stream (see "Lost
// acknowledgements" in the package documentation).
func (p *publisher) tryResolve(batch []*publish) error {
	j := p.j
	ctx, cancel := context.WithTimeout(context.Background(), 4*j.opts.Timeout)
	defer cancel()
	want := make(map[string]*publish, len(batch))
	from := uint64(math.MaxUint64)
	for _, pb := range batch {
		if !pb.done.isSet.Load() {
			want[pb.pub] = pb
			from = min(from, pb.after)
		}
	}
	if len(want) == 0 {
		return nil
	}
	until, err := j.fence(ctx)
	if err != nil {
		return err
	}
	// A clustered leader's last position counts the messages it has
	// proposed; wait until they are stored.
	for {
		info, err := j.info(ctx)
		if err != nil {
			return err
		}
		if info.State.LastSeq >= until {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for after := from; after < until && len(want) > 0; {
		recs, err := j.fetch(ctx, after, until, readBatch, "")
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if pb := want[rec.hdr.Get(hdrPub)]; pb != nil {
				pb.complete(rec.seq, nil)
				delete(want, pb.pub)
			}
			after = rec.seq
		}
	}
	for _, pb := range want {
		pb.complete(0, fmt.Errorf("%w: the event was lost before the stream stored it", ErrUnavailable))
	}
	return nil
}

// fenceSeq is the last position a fence expects the stream to have: one
// it never reaches, so that the leader refuses the fence.
const fenceSeq = math.MaxInt64

// fence sends the stream a publish that its leader refuses without storing
// it, and returns the stream's last position, which the refusal tells.
// The leader deals with a connection's messages in order, so every
// message sent before the fence has been stored or dropped by then.
func (j *Journal) fence(ctx context.Context) (uint64, error) {
	h := nats.Header{}
	h.Set(natsjs.ExpectedLastSeqHeader, strconv.FormatInt(fenceSeq, 10))
	msgs, err := j.replies.do(ctx, &nats.Msg{Subject: j.subj.event(), Header: h}, false, j.opts.Timeout)
	if err != nil {
		return 0, unavailable(err)
	}
	err = decodeAPI(msgs[0].Data, nil)
	refusal, ok := errors.AsType[*natsjs.APIError](err)
	if !ok || refusal.ErrorCode != natsjs.JSErrCodeStreamWrongLastSequence {
		if err == nil {
			err = errors.New("the stream stored a fence")
		}
		return 0, fmt.Errorf("journal/jetstream: fence: %w", unavailable(err))
	}
	// "wrong last sequence: 42"
	_, last, _ := strings.Cut(refusal.Description, ": ")
	seq, perr := strconv.ParseUint(last, 10, 64)
	if perr != nil {
		return 0, fmt.Errorf("journal/jetstream: fence: %w", err)
	}
	return seq, nil
}

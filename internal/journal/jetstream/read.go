package jetstream

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
)

// readBatch is how many events a read, a follower or a resolve asks
// JetStream for at a time.
const readBatch = 512

// record is one message of the stream: its position, headers and payload.
type record struct {
	seq  uint64
	hdr  nats.Header
	data []byte
}

// directGetRequest asks any replica of the stream for a batch of messages.
type directGetRequest struct {
	Seq     uint64 `json:"seq"`
	Batch   int    `json:"batch"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// fetch returns, in order, up to n of the stream's messages with after <
// seq <= until, those on subjects that filter matches if it is not empty.
// It returns none only when there are none: every message up to until is
// known to be stored (see Journal.known), so an empty range means
// retention removed them, or none matched.
//
// A batch comes from a direct get, which any replica answers from what it
// has applied. A replica may lag the leader, and then has nothing, or not
// everything, up to until: when the batch is empty, fetch asks the leader
// for the next message instead (see fetchLeader), so it always makes
// progress and never mistakes a lagging replica for an empty range.
func (j *Journal) fetch(ctx context.Context, after, until uint64, n int, filter string) ([]record, error) {
	if after >= until {
		return nil, nil
	}
	n = int(min(uint64(n), until-after))
	req, err := json.Marshal(directGetRequest{Seq: after + 1, Batch: n, NextFor: filter})
	if err != nil {
		return nil, err
	}
	msgs, err := j.replies.do(ctx, &nats.Msg{Subject: j.api + "DIRECT.GET." + j.opts.Stream, Data: req}, true, j.opts.Timeout)
	var recs []record
	if err == nil {
		for _, m := range msgs {
			if m.Header.Get(hdrStatus) != "" {
				continue
			}
			seq, perr := strconv.ParseUint(m.Header.Get(hdrNatsSeq), 10, 64)
			if perr != nil || seq <= after {
				return nil, fmt.Errorf("journal/jetstream: direct get answered position %q for %d", m.Header.Get(hdrNatsSeq), after+1)
			}
			if seq > until {
				break
			}
			recs = append(recs, record{seq: seq, hdr: m.Header, data: m.Data})
			after = seq
		}
	} else if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(recs) > 0 {
		return recs, nil
	}
	// Nothing from a replica (or no replica answered): the leader knows.
	return j.fetchLeader(ctx, after, until, filter)
}

// fetchLeader asks the stream's leader for the first message with after
// < seq <= until (on a subject filter matches, if not empty). The tail
// consumer may report a position that a replica applied before the
// leader did, so fetchLeader first waits, asking every followPoll, until
// the leader holds until (or Options.Timeout has passed); only then is
// the leader's "nothing there" an empty range. Asked the other way round,
// the leader could store the range between the two answers, and a
// follower would skip it.
func (j *Journal) fetchLeader(ctx context.Context, after, until uint64, filter string) ([]record, error) {
	deadline := time.Now().Add(j.opts.Timeout)
	for {
		info, err := j.info(ctx)
		if err != nil {
			return nil, err
		}
		if info.State.LastSeq >= until {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: the stream's leader holds up to %d, not yet %d", ErrUnavailable, info.State.LastSeq, until)
		}
		t := time.NewTimer(followPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	rec, found, err := j.get(ctx, msgGetRequest{Seq: after + 1, NextFor: cmp.Or(filter, j.subj.all())})
	if err != nil || !found || rec.seq > until {
		// None up to until: retention removed them, or none matched.
		return nil, err
	}
	return []record{rec}, nil
}

// get asks the stream's leader for one message: found is false when there
// is none.
func (j *Journal) get(ctx context.Context, req msgGetRequest) (rec record, found bool, err error) {
	var resp storedMsg
	err = j.replies.api(ctx, j.api+"STREAM.MSG.GET."+j.opts.Stream, req, &resp, j.opts.Timeout)
	switch code := apiCode(err); {
	case code == natsjs.JSErrCodeMessageNotFound:
		return record{}, false, nil
	case code == natsjs.JSErrCodeStreamNotFound:
		j.fail(fmt.Errorf("%w: stream %s no longer exists", ErrStreamGone, j.opts.Stream))
		return record{}, false, *j.goneErr.Load()
	case err != nil:
		return record{}, false, fmt.Errorf("journal/jetstream: get message: %w", unavailable(err))
	}
	m := resp.Message
	rec = record{seq: m.Seq, data: m.Data, hdr: nats.Header{}}
	if len(m.Header) > 0 {
		if rec.hdr, err = nats.DecodeHeadersMsg(m.Header); err != nil {
			return record{}, false, fmt.Errorf("journal/jetstream: message %d: %w", m.Seq, err)
		}
	}
	return rec, true, nil
}

// event decodes rec, or logs why it cannot and returns nil: a message
// that is not an event must not stop every reader behind it.
func (j *Journal) event(rec record) *journal.Event {
	ev, err := decode(rec.seq, rec.hdr, rec.data)
	if err != nil {
		j.log.Error("journal: skipping a message that is not an event", "stream", j.opts.Stream, "seq", rec.seq, "err", err)
		return nil
	}
	return ev
}

// expired reports whether retention by age no longer allows ev at now.
// JetStream removes such events on its own clock, on its own schedule;
// the journal does not wait for it to stop serving them.
func (j *Journal) expired(ev *journal.Event, now time.Time) bool {
	age := j.opts.Retention.MaxAge
	return age > 0 && !ev.Time.After(now.Add(-age))
}

// events appends to buf the events of the stream with after < Seq <= until
// that retention allows, reading batches until it has one or the range is
// exhausted; buf is empty only then.
func (j *Journal) events(ctx context.Context, after, until uint64, buf []*journal.Event, filter string) ([]*journal.Event, error) {
	for len(buf) == 0 && after < until {
		recs, err := j.fetch(ctx, after, until, cap(buf), filter)
		if err != nil || len(recs) == 0 {
			return buf, err
		}
		after = recs[len(recs)-1].seq
		buf = j.retained(recs, buf)
	}
	return buf, nil
}

// retained appends to buf the events of recs that retention allows.
func (j *Journal) retained(recs []record, buf []*journal.Event) []*journal.Event {
	now := time.Now()
	for _, rec := range recs {
		if ev := j.event(rec); ev != nil && !j.expired(ev, now) {
			buf = append(buf, ev)
		}
	}
	return buf
}

// readAhead is how many batches a Read fetches at once, ahead of fn.
const readAhead = 4

// Read calls fn, in order, for every retained event with Seq > after that
// was stored, by any node, before Read began: it reads up to the stream's
// last position as its leader tells it, so it returns every event that any
// follower has delivered. It calls fn with nothing of the journal's held,
// so fn may call the journal.
//
// The range is read in batches of readBatch positions, readAhead of them
// fetched at once: a direct get is a round trip, answered by whichever
// replica takes it, so batches fetched side by side (from several
// replicas) and while fn runs make a long read, such as a resume after
// many missed events, take a fraction of the round trips one after the
// other would.
func (j *Journal) Read(ctx context.Context, after uint64, fn func(*journal.Event) error) error {
	until, err := j.Last(ctx)
	if err != nil {
		return err
	}
	type batch struct {
		evs []*journal.Event
		err error
	}
	var fetches sync.WaitGroup
	defer fetches.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// In order of position, the batches being fetched: at most readAhead
	// wait here, and one is with fn.
	pending := make(chan chan batch, readAhead-1)
	fetches.Go(func() {
		defer close(pending)
		for lo := after; lo < until; lo += readBatch {
			hi := min(lo+readBatch, until)
			done := make(chan batch, 1)
			select {
			case pending <- done:
			case <-rctx.Done():
				return
			}
			fetches.Go(func() {
				evs, err := j.rangeEvents(rctx, lo, hi)
				done <- batch{evs, err}
			})
		}
	})
	for done := range pending {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := <-done
		if b.err != nil {
			return b.err
		}
		for _, ev := range b.evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// rangeEvents returns, in order, the events with lo < Seq <= hi that
// retention allows.
func (j *Journal) rangeEvents(ctx context.Context, lo, hi uint64) ([]*journal.Event, error) {
	var evs []*journal.Event
	for lo < hi {
		recs, err := j.fetch(ctx, lo, hi, readBatch, "")
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		lo = recs[len(recs)-1].seq
		evs = j.retained(recs, evs)
	}
	return evs, nil
}

// Lookup maps the ID of a retained event to its position. It asks the
// stream's leader, so an event any node has appended resolves. A
// generated ID resolves if its epoch is the journal's and its position
// holds an event appended in that epoch; a publisher-chosen ID resolves
// through its subject.
func (j *Journal) Lookup(ctx context.Context, id string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := j.usable(); err != nil {
		return 0, err
	}
	epoch, seq, generated := journal.ParseID(id)
	var req msgGetRequest
	switch {
	case generated && epoch != j.epoch, id == "":
		return 0, journal.ErrUnknownID
	case generated:
		req.Seq = seq
	default:
		req.LastFor = j.subj.id(id)
	}
	rec, found, err := j.get(ctx, req)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, journal.ErrUnknownID
	}
	ev, err := decode(rec.seq, rec.hdr, nil)
	switch {
	case err != nil:
		return 0, journal.ErrUnknownID
	case generated && rec.hdr.Get(hdrEpoch) != epoch:
		// Appended by a journal that had opened an earlier stream of the
		// same name: the ID names an event of that stream.
		return 0, journal.ErrUnknownID
	case !generated && ev.ID != id:
		// Another ID with the same hash, which SHA-256 makes a wonder.
		return 0, journal.ErrUnknownID
	case j.expired(ev, time.Now()):
		return 0, journal.ErrUnknownID
	}
	return rec.seq, nil
}

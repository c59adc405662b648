// Package longpoll answers a poll from an admitted session: the events
// after the poller's cursor, at once when some are retained, else the
// first ones published before the wait ends, as one JSON document (see
// docs/protocol.md, "Polling").
//
// A poll is stateless between requests: each one is a session that
// resumes from the cursor through the journal, so a poller may switch
// node, restart with the hub or switch transport and still see every
// event once, in order.
package longpoll

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/transport/wire"
)

// Limits of a poll.
const (
	// DefaultLimit is the most events in an answer when the poll names
	// no limit.
	DefaultLimit = 100
	// MaxLimit is the most a poll may ask for.
	MaxLimit = 1000
	// DefaultMaxWait is the cap on a poll's wait unless configured.
	DefaultMaxWait = 30 * time.Second
	// maxAnswerBytes stops an answer early (with More) once its events
	// weigh this much: a poller asking for 1,000 large events gets them
	// over a few polls rather than in one huge document.
	maxAnswerBytes = 1 << 20
)

// Format is an event as a poll answers it: a JSON object, encoded once per
// event and shared by every poller.
var Format = hub.NewFormat(wire.MarshalEvent)

// Answer is what a poll found.
type Answer struct {
	// Events are the events' JSON objects (in Format), in journal order.
	Events [][]byte
	// LastEventID is the cursor to send next.
	LastEventID string
	// More says the limit cut the answer: more events are due at once.
	More bool
	// Earliest says the poller's cursor was unknown: the events start at
	// the oldest retained one.
	Earliest bool
	// Oldest is when the journal took the oldest event that came live
	// (while the poll was held, or just after its replay); zero when none
	// did. Metrics take the event age at delivery from it.
	Oldest time.Time

	bytes int
}

// errFull stops a replay once the answer is full.
var errFull = errors.New("longpoll: answer full")

// Collect answers a poll of sess, which resumes from the poller's cursor
// (requested, "" for none): up to limit events retained after it, at once;
// when there are none, the first events published within wait. A session
// that ends meanwhile (the server drains, the token expired) answers what
// was found so far. The caller releases sess.
func Collect(ctx context.Context, sess *session.Session, requested string, wait time.Duration, limit int, clk clock.Clock) (Answer, error) {
	a := Answer{
		LastEventID: sess.StartID,
		Earliest:    requested != "" && requested != hub.Earliest && !sess.Sub.Resumed(),
	}
	err := sess.Sub.Replay(ctx, func(m *hub.Message) error {
		if !a.add(m, limit) {
			a.More = true
			return errFull
		}
		return nil
	})
	switch {
	case errors.Is(err, errFull):
		return a, nil
	case err != nil:
		return a, err
	}
	if len(a.Events) > 0 || wait <= 0 {
		// A short poll, or replayed events: add what came live meanwhile.
		a.drain(sess, limit)
		return a, nil
	}
	expired := make(chan struct{})
	timer := clock.Or(clk).AfterFunc(wait, func() { close(expired) })
	defer timer.Stop()
	for len(a.Events) == 0 {
		select {
		case <-sess.Ready():
			a.drain(sess, limit)
		case <-sess.Done():
			a.drain(sess, limit)
			return a, nil
		case <-expired:
			return a, nil
		case <-ctx.Done():
			return a, ctx.Err()
		}
	}
	return a, nil
}

// drain adds the session's queued events, as far as the limit allows; the
// rest are read again from the journal by the next poll.
func (a *Answer) drain(sess *session.Session, limit int) {
	for _, m := range sess.Sub.Drain(nil) {
		if !a.add(m, limit) {
			a.More = true
			return
		}
		if a.Oldest.IsZero() {
			a.Oldest = m.Event.Time
		}
	}
}

// add appends m to the answer, unless the answer is full.
func (a *Answer) add(m *hub.Message, limit int) bool {
	if len(a.Events) >= limit || a.bytes >= maxAnswerBytes {
		return false
	}
	frame := m.Frame(Format)
	a.Events = append(a.Events, frame)
	a.bytes += len(frame)
	// An announcement (a subscription event) has no ID and no place in
	// the journal: the cursor stays where it was.
	if m.Event.ID != "" {
		a.LastEventID = m.Event.ID
	}
	return true
}

// AppendJSON appends the answer's document to dst: the events, the cursor,
// the flags, the cap on waits and, when not empty, the poller's identity.
func (a *Answer) AppendJSON(dst []byte, maxWait time.Duration, subscriber string) []byte {
	dst = append(dst, `{"events":[`...)
	for i, ev := range a.Events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, ev...)
	}
	dst = append(dst, `],"lastEventID":`...)
	dst = appendString(dst, a.LastEventID)
	if a.More {
		dst = append(dst, `,"more":true`...)
	}
	if a.Earliest {
		dst = append(dst, `,"earliest":true`...)
	}
	dst = append(dst, `,"maxWait":`...)
	dst = strconv.AppendFloat(dst, maxWait.Seconds(), 'f', -1, 64)
	if subscriber != "" {
		dst = append(dst, `,"subscriber":`...)
		dst = appendString(dst, subscriber)
	}
	return append(dst, "}\n"...)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// ParseWait reads a poll's wait: seconds, a decimal number with at most
// millisecond precision; absent means maxWait, and more is capped to it.
func ParseWait(v string, maxWait time.Duration) (time.Duration, error) {
	if v == "" {
		return maxWait, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || len(v) > 16 || strings.Trim(v, "0123456789.") != "" {
		return 0, errors.New("invalid wait: want a number of seconds, 0 or more")
	}
	if f >= maxWait.Seconds() {
		return maxWait, nil
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
}

// ParseLimit reads a poll's limit: 1 to MaxLimit; absent means
// DefaultLimit.
func ParseLimit(v string) (int, error) {
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, errors.New("invalid limit: want a whole number from 1 to " + strconv.Itoa(MaxLimit))
	}
	return n, nil
}

package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhub/herald/sse"
)

// earliest is the cursor that stands for everything retained; a hub
// answers it (or, polling, `"earliest": true`) when it did not know the
// cursor it was given.
const earliest = "earliest"

// defaultPollWait is what the stream expects a hub to hold a poll before
// its first answer says how long it may (Herald's --poll-max-wait
// default).
const defaultPollWait = 30 * time.Second

// pollAnswer is the JSON answer to a poll.
type pollAnswer struct {
	Events []struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Data  string `json:"data"`
		Retry int64  `json:"retry"`
	} `json:"events"`
	LastEventID string `json:"lastEventID"`
	// More needs nothing from the client: the next poll follows at once,
	// and the hub answers it at once since events are due.
	Earliest   bool    `json:"earliest"`
	MaxWait    float64 `json:"maxWait"`
	Subscriber string  `json:"subscriber"`
}

// poller is the source of a long-polling connection: a run of polls, each
// from the cursor the previous one answered.
type poller struct {
	st     *Stream
	c      *conn
	batch  []sse.Event // of the last answer, not yet returned
	last   string      // the ID of the last event returned
	answer string      // the last answer's cursor, once its events are all returned
	hint   time.Duration
}

func (p *poller) next() (sse.Event, error) {
	for len(p.batch) == 0 {
		if err := p.poll(false); err != nil {
			return sse.Event{}, err
		}
	}
	ev := p.batch[0]
	p.batch = p.batch[1:]
	p.last = ev.ID
	if ev.Retry > 0 {
		p.hint = ev.Retry
	}
	return ev, nil
}

func (p *poller) cursor() string {
	if len(p.batch) == 0 {
		return p.answer
	}
	return p.last
}

func (p *poller) retry() time.Duration { return p.hint }
func (p *poller) close()               {}

// openPoll opens a polling connection on c with a short poll, which the hub
// answers at once: the connection is open when the hub has answered, and
// a long poll would keep Connect waiting for an event.
func (st *Stream) openPoll(c *conn) error {
	p := &poller{st: st, c: c, answer: st.LastEventID()}
	c.src = p
	return p.poll(true)
}

// poll asks the hub for the events after the cursor, at once if short,
// else waiting as long as the hub holds polls (or PollWait).
func (p *poller) poll(short bool) error {
	st := p.st
	sent := p.answer
	u, err := url.Parse(st.cfg.URL)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	q := u.Query()
	q.Del("lastEventID")
	if sent != "" {
		q.Set("lastEventID", sent)
	}
	wait := st.pollWait
	switch {
	case short:
		wait = 0
		q.Set("wait", "0")
	case st.cfg.PollWait > 0:
		wait = min(st.cfg.PollWait, wait)
		q.Set("wait", strconv.FormatFloat(st.cfg.PollWait.Seconds(), 'f', 3, 64))
	default:
		// Absent, the wait is the hub's cap; the Accept header makes this a
		// poll.
		q.Del("wait")
	}
	if st.cfg.PollLimit > 0 {
		q.Set("limit", strconv.Itoa(st.cfg.PollLimit))
	}
	q.Del("subscriber")
	if st.pollSubscriber != "" {
		q.Set("subscriber", st.pollSubscriber)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(p.c.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-store")
	st.addHeader(req.Header)
	if err := st.beforeConnect(req); err != nil {
		return err
	}

	p.c.extendTimeout(wait)
	resp, err := st.client.Do(req)
	if err != nil {
		return p.c.timeoutErr(err)
	}
	defer resp.Body.Close()
	body := readCounter{resp.Body, p.c.received}
	if err := checkResponse(resp, body, "application/json"); err != nil {
		return err
	}
	var a pollAnswer
	if err := json.NewDecoder(body).Decode(&a); err != nil {
		return fmt.Errorf("client: decoding a poll answer: %w", p.c.timeoutErr(err))
	}
	// What may follow the JSON value is read, so that the connection
	// serves the next poll.
	io.Copy(io.Discard, io.LimitReader(body, maxMessage))
	p.c.extendTimeout(0)
	if a.MaxWait > 0 {
		st.pollWait = time.Duration(a.MaxWait * float64(time.Second))
	}
	if a.Subscriber != "" {
		st.pollSubscriber = a.Subscriber
	}
	st.checkCursor(sent, a.Earliest)
	for _, e := range a.Events {
		p.batch = append(p.batch, sse.Event{
			ID:    e.ID,
			Type:  e.Type,
			Data:  []byte(e.Data),
			Retry: time.Duration(e.Retry) * time.Millisecond,
		})
	}
	switch {
	case a.LastEventID != "":
		p.answer = a.LastEventID
	case len(p.batch) > 0:
		p.answer = p.batch[len(p.batch)-1].ID
	}
	if len(p.batch) == 0 {
		// The position moved without an event (a first poll without a
		// cursor starts from the newest event): a stream that ended now
		// would resume from there.
		st.setLastID(p.answer)
	}
	return nil
}

package server

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/transport/longpoll"
)

// isPoll reports whether a subscribe request asks for a poll rather than
// a stream: it prefers JSON to an event stream, or it names a wait. A
// request that says nothing is a stream, as every Mercure client expects.
func isPoll(r *http.Request, query url.Values) bool {
	if query.Has("wait") {
		return true
	}
	json, stream := false, false
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			json = json || mt == "application/json"
			stream = stream || mt == "text/event-stream"
		}
	}
	return json && !stream
}

// servePoll answers a long or short poll (docs/protocol.md, "Polling"):
// the events after the poller's cursor, at once if any are retained, else
// the first published within its wait.
func (s *Server) servePoll(w http.ResponseWriter, r *http.Request, req subscribeRequest, q url.Values) {
	h := w.Header()
	wait, err := longpoll.ParseWait(q.Get("wait"), s.cfg.PollMaxWait)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, err.Error()))
		return
	}
	limit, err := longpoll.ParseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, err.Error()))
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	req.unlisted = true
	sess, herr := s.admit(r.Context(), req)
	if herr != nil {
		writeError(w, herr)
		return
	}
	// Registered, the session ends when the server drains: the poll is
	// answered at once and the poller comes back elsewhere.
	if err := s.sessions.Add(sess); err != nil {
		sess.Release(err)
		writeError(w, unavailable("server shutting down", 1))
		return
	}
	s.metrics.poll.opens()
	subscriber := s.pollers.start(q.Get("subscriber"), req)
	answer, err := longpoll.Collect(r.Context(), sess, req.lastEventID, wait, limit, s.cfg.Clock)
	sess.Release(err)
	s.pollers.end(subscriber)
	s.metrics.poll.closes(err)
	if err != nil {
		if r.Context().Err() == nil && !errors.Is(err, hub.ErrHubClosed) {
			s.log.Warn("poll failed", "err", err)
		}
		writeError(w, unavailable("events unavailable, retry later", 1))
		return
	}
	s.metrics.poll.delivered(answer.Oldest)
	n, _ := w.Write(answer.AppendJSON(nil, s.cfg.PollMaxWait, subscriber))
	s.metrics.poll.sent.Add(float64(n))
}

// pollers is the presence of long and short pollers: each poll is a
// subscription of its own, but a poller counts as one subscriber in the
// subscriptions API and its events, from its first poll until none of
// its polls has arrived for the wait cap plus pollerGrace. A poller is
// known by the ID its first answer gave it, sent back with the same
// selectors and token subject.
type pollers struct {
	srv     *Server
	clock   clock.Clock
	linger  time.Duration // how long a poller stays listed after its last poll
	mu      sync.Mutex
	byID    map[string]*poller
	sweeper clock.Timer // armed while any poller is listed
}

type poller struct {
	id        string
	subject   string
	selectors selector.Set
	payload   json.RawMessage
	polling   int       // polls being held
	last      time.Time // when its last poll ended
}

const (
	// pollerGrace is how long a poller stays listed past the wait cap
	// without polling: time to make its next poll.
	pollerGrace = 30 * time.Second
	// maxPollers bounds the presence table. Past it, new pollers are
	// served but not listed.
	maxPollers = 100_000
	// maxPollerID bounds the ID a poll may send back.
	maxPollerID = 64
)

func newPollers(s *Server) *pollers {
	return &pollers{srv: s, clock: clock.Or(s.cfg.Clock), linger: s.cfg.PollMaxWait + pollerGrace, byID: make(map[string]*poller)}
}

// start records a poll of the poller id (or of a new poller, when id is
// empty or names another) and returns the poller's ID; "" when the
// subscriptions API is off or the table is full.
func (p *pollers) start(id string, req subscribeRequest) string {
	if !p.srv.cfg.SubscriptionEvents {
		return ""
	}
	var subject string
	if req.claims != nil {
		subject = req.claims.Subject
	}
	p.mu.Lock()
	if pl := p.byID[id]; pl != nil && len(id) <= maxPollerID && pl.subject == subject && sameSelectors(pl.selectors, req.selectors) {
		pl.polling++
		p.mu.Unlock()
		return pl.id
	}
	if len(p.byID) >= maxPollers {
		p.mu.Unlock()
		p.srv.refusals.Info("poller not listed: too many pollers", "limit", maxPollers)
		return ""
	}
	pl := &poller{id: hub.NewSubscriberID(), subject: subject, selectors: req.selectors, polling: 1}
	if req.claims != nil {
		pl.payload = req.claims.Payload
	}
	p.byID[pl.id] = pl
	if p.sweeper == nil {
		p.sweeper = p.clock.AfterFunc(p.linger/2, p.sweep)
	}
	p.mu.Unlock()
	p.srv.announceSubscriber(pl.id, pl.selectors, pl.payload, true)
	return pl.id
}

// end records that a poll of the poller id was answered.
func (p *pollers) end(id string) {
	if id == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pl := p.byID[id]; pl != nil {
		pl.polling--
		pl.last = p.clock.Now()
	}
}

// sweep forgets the pollers that stopped polling, announcing each
// inactive, and runs again while any is left.
func (p *pollers) sweep() {
	now := p.clock.Now()
	var gone []*poller
	p.mu.Lock()
	for id, pl := range p.byID {
		if pl.polling == 0 && now.Sub(pl.last) >= p.linger {
			delete(p.byID, id)
			gone = append(gone, pl)
		}
	}
	p.sweeper = nil
	if len(p.byID) > 0 {
		p.sweeper = p.clock.AfterFunc(p.linger/2, p.sweep)
	}
	p.mu.Unlock()
	for _, pl := range gone {
		p.srv.announceSubscriber(pl.id, pl.selectors, pl.payload, false)
	}
}

// list describes the listed pollers.
func (p *pollers) list() []hub.SubscriptionInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]hub.SubscriptionInfo, 0, len(p.byID))
	for _, pl := range p.byID {
		out = append(out, hub.SubscriptionInfo{ID: pl.id, Selectors: pl.selectors.Strings(), Payload: pl.payload})
	}
	return out
}

// stop forgets every poller, announcing each inactive (the server drains).
func (p *pollers) stop() {
	p.mu.Lock()
	all := p.byID
	p.byID = make(map[string]*poller)
	if p.sweeper != nil {
		p.sweeper.Stop()
		p.sweeper = nil
	}
	p.mu.Unlock()
	for _, pl := range all {
		p.srv.announceSubscriber(pl.id, pl.selectors, pl.payload, false)
	}
}

func sameSelectors(a, b selector.Set) bool {
	return slices.Equal(a.Strings(), b.Strings())
}

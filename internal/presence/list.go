package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/hub"
)

// Subscriptions returns the subscriptions of the other nodes that f
// selects, as each answers a request sent after the call: a subscriber
// of another node that came before the call is listed unless it went
// before that node answered. Every node heard lately is waited for, up
// to Config.ListTimeout; the subscriptions of a node that did not answer
// by then are missing, and the error, which wraps [ErrIncomplete], names
// it. The answers of nodes not yet heard that arrive meanwhile count too.
//
// Calls with the same filter share their requests: a call made while a
// request is out waits for the next, which every call that arrived
// meanwhile shares, so that a flood of calls costs every node one list
// at a time. The subscriptions returned are shared; they must not be
// modified.
func (n *Node) Subscriptions(ctx context.Context, f hub.SubscriptionFilter) ([]hub.SubscriptionInfo, error) {
	r := n.rounds.join(n, f)
	if r == nil {
		return nil, ErrClosed
	}
	select {
	case <-r.done:
		return r.subs, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// rounds are the lists under way, one filter at a time: each round is one
// request to every node, for every call that joined it.
type rounds struct {
	mu      sync.Mutex
	closed  bool
	next    map[hub.SubscriptionFilter]*round // waiting to start, joined by every new call
	running map[hub.SubscriptionFilter]bool   // a goroutine runs the rounds of the filter
}

// round is one list, and its outcome once done is closed.
type round struct {
	done chan struct{}
	subs []hub.SubscriptionInfo
	err  error
}

func (rs *rounds) init() {
	rs.next = make(map[hub.SubscriptionFilter]*round)
	rs.running = make(map[hub.SubscriptionFilter]bool)
}

// join returns the next round of f, starting the goroutine of f's rounds
// if none runs; nil once the node is closed.
func (rs *rounds) join(n *Node, f hub.SubscriptionFilter) *round {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return nil
	}
	r := rs.next[f]
	if r == nil {
		r = &round{done: make(chan struct{})}
		rs.next[f] = r
	}
	if !rs.running[f] {
		rs.running[f] = true
		n.wg.Go(func() { rs.run(n, f) })
	}
	return r
}

// run runs the rounds of f one after the other until none waits.
func (rs *rounds) run(n *Node, f hub.SubscriptionFilter) {
	for {
		rs.mu.Lock()
		r := rs.next[f]
		delete(rs.next, f)
		if r == nil {
			delete(rs.running, f)
			rs.mu.Unlock()
			return
		}
		rs.mu.Unlock()
		r.subs, r.err = n.list(f)
		close(r.done)
	}
}

// close makes join refuse new rounds, so that no goroutine starts once
// the node waits for its goroutines to end.
func (rs *rounds) close() {
	rs.mu.Lock()
	rs.closed = true
	rs.mu.Unlock()
}

// list is one round: the subscriptions f selects on every other node.
func (n *Node) list(f hub.SubscriptionFilter) ([]hub.SubscriptionInfo, error) {
	waitFor := n.livePeers()
	if len(waitFor) == 0 {
		return nil, nil
	}
	answers, missing, err := n.gather(context.Background(), f, "", waitFor)
	var subs []hub.SubscriptionInfo
	for _, a := range answers {
		subs = append(subs, a...)
	}
	if err == nil && len(missing) > 0 {
		n.stats.incomplete.Add(1)
		slices.Sort(missing)
		err = fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	return subs, err
}

// gather sends a list request for f, to one node (to) or to every one,
// and waits for the answers of the nodes of waitFor until each has
// answered, Config.ListTimeout has passed, ctx has ended or the node
// closes. It returns the complete answers that arrived, by node (from
// nodes not waited for too), and the nodes waited for whose answer is
// missing or lacks a part.
func (n *Node) gather(ctx context.Context, f hub.SubscriptionFilter, to string, waitFor []string) (map[string][]hub.SubscriptionInfo, []string, error) {
	select {
	case <-n.closing:
		return nil, waitFor, ErrClosed
	default:
	}
	id := n.requests.Add(1)
	g := newGather(waitFor)
	n.gathersMu.Lock()
	n.gathers[id] = g
	n.gathersMu.Unlock()
	defer func() {
		n.gathersMu.Lock()
		delete(n.gathers, id)
		n.gathersMu.Unlock()
	}()

	data, err := json.Marshal(wireFilter{Selector: f.Selector, Subscriber: f.Subscriber})
	if err != nil {
		return nil, waitFor, err
	}
	msg := &nats.Msg{Subject: n.subj.list, Reply: n.subj.replies + n.id, Header: nats.Header{}, Data: data}
	msg.Header.Set(hdrNode, n.id)
	msg.Header.Set(hdrRequest, strconv.FormatUint(id, 10))
	if to != "" {
		msg.Header.Set(hdrTo, to)
	}
	if err := n.nc.PublishMsg(msg); err != nil {
		return nil, waitFor, fmt.Errorf("presence: sending a list request: %w", err)
	}
	timer := time.NewTimer(n.cfg.ListTimeout)
	defer timer.Stop()
	select {
	case <-g.done:
	case <-timer.C:
	case <-ctx.Done():
	case <-n.closing:
	}
	answers, missing := g.result()
	return answers, missing, nil
}

// gather collects the answers to one request.
type gather struct {
	mu      sync.Mutex
	waiting map[string]bool // the nodes waited for that have not answered in full
	answers map[string]*answer
	done    chan struct{} // closed once waiting is empty
}

// answer is one node's answer, part by part.
type answer struct {
	subs     []hub.SubscriptionInfo
	next     int  // the part expected next
	complete bool // the last part arrived, and every one before
	broken   bool // a part is missing or did not decode
}

func newGather(waitFor []string) *gather {
	g := &gather{waiting: make(map[string]bool), answers: make(map[string]*answer), done: make(chan struct{})}
	for _, id := range waitFor {
		g.waiting[id] = true
	}
	return g
}

// add takes a part of from's answer; subs is nil for a part that did
// not decode (decodeSubscriptions never returns nil otherwise).
func (g *gather) add(from string, part int, last bool, subs []hub.SubscriptionInfo) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.answers[from]
	if a == nil {
		a = &answer{}
		g.answers[from] = a
	}
	if a.complete || a.broken {
		return
	}
	if part != a.next || subs == nil {
		a.broken = true
		return
	}
	a.next++
	a.subs = append(a.subs, subs...)
	if !last {
		return
	}
	a.complete = true
	if g.waiting[from] {
		delete(g.waiting, from)
		if len(g.waiting) == 0 {
			close(g.done)
		}
	}
}

// result returns the complete answers and the nodes waited for without one.
func (g *gather) result() (map[string][]hub.SubscriptionInfo, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	answers := make(map[string][]hub.SubscriptionInfo, len(g.answers))
	for id, a := range g.answers {
		if a.complete {
			answers[id] = a.subs
		}
	}
	var missing []string
	for id := range g.waiting {
		missing = append(missing, id)
	}
	return answers, missing
}

// receiveAnswer takes a part of another node's answer to one of this
// node's requests.
func (n *Node) receiveAnswer(m *nats.Msg) {
	from := m.Header.Get(hdrNode)
	id, err1 := headerUint(m.Header, hdrRequest)
	part, err2 := headerUint(m.Header, hdrPart)
	if from == "" || err1 != nil || err2 != nil {
		return
	}
	n.gathersMu.Lock()
	g := n.gathers[id]
	n.gathersMu.Unlock()
	if g == nil {
		return // too late
	}
	subs, err := decodeSubscriptions(m.Data)
	if err != nil {
		n.log.Warn("presence: an answer of another node does not decode", "node", from, "err", err)
	}
	g.add(from, int(part), m.Header.Get(hdrLast) == "1", subs)
}

// listRequest is another node's request for this node's subscriptions.
type listRequest struct {
	reply   string
	request string
	filter  hub.SubscriptionFilter
}

// receiveRequest queues another node's list request for answer.
func (n *Node) receiveRequest(m *nats.Msg) {
	if from := m.Header.Get(hdrNode); from == "" || from == n.id || m.Reply == "" {
		return
	}
	if to := m.Header.Get(hdrTo); to != "" && to != n.id {
		return
	}
	var f wireFilter
	if err := json.Unmarshal(m.Data, &f); err != nil {
		n.log.Warn("presence: a list request of another node does not decode", "err", err)
		return
	}
	req := listRequest{reply: m.Reply, request: m.Header.Get(hdrRequest), filter: hub.SubscriptionFilter{Selector: f.Selector, Subscriber: f.Subscriber}}
	select {
	case n.answers <- req:
	default:
		n.stats.refused.Add(1)
	}
}

// answer answers the other nodes' list requests: all those waiting with
// one call of local, each from what its filter selects.
func (n *Node) answer() {
	defer n.wg.Done()
	for {
		var batch []listRequest
		select {
		case r := <-n.answers:
			batch = append(batch, r)
		case <-n.closing:
			return
		}
		// answer is the one reader of n.answers.
		for len(n.answers) > 0 {
			batch = append(batch, <-n.answers)
		}
		all := n.local()
		encoded := make(map[hub.SubscriptionFilter][][]byte)
		for _, r := range batch {
			ps, ok := encoded[r.filter]
			if !ok {
				var err error
				if ps, err = parts(toWire(r.filter.Apply(all)), n.partLimit); err != nil {
					n.log.Error("presence: encoding subscriptions", "err", err)
					continue
				}
				encoded[r.filter] = ps
			}
			for i, p := range ps {
				msg := &nats.Msg{Subject: r.reply, Header: nats.Header{}, Data: p}
				msg.Header.Set(hdrNode, n.id)
				msg.Header.Set(hdrRequest, r.request)
				msg.Header.Set(hdrPart, strconv.Itoa(i))
				if i == len(ps)-1 {
					msg.Header.Set(hdrLast, "1")
				}
				// A part NATS refuses leaves the answer incomplete: the
				// requester counts this node missing.
				n.logFailure.report(n.log, "presence: sending to the other nodes", n.nc.PublishMsg(msg))
			}
		}
	}
}

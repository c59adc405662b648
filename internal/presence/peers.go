package presence

import (
	"context"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/hub"
)

// peer is what a node knows of another: when it was last heard, the last
// number of its sequence, and its subscriptions as its changes and its
// answers told them. The copy is what the node announces gone when the
// other stops without saying so for each subscriber.
type peer struct {
	id    string
	heard time.Time
	seq   uint64
	subs  map[string]hub.SubscriptionInfo

	// stale says that changes of the peer were missed (or, for a peer
	// first heard after it started, never seen): its subscriptions are
	// to be listed again. loud says that what that list shows changed is
	// to be announced: not for a peer first heard, whose subscribers
	// predate this node's watchers' lists.
	stale, loud bool
	// resync is the list under way, nil when none is.
	resync *resync
	// failing says the last resync failed, so that only the first of a
	// run is logged.
	failing bool
}

// resync is a list of one peer's subscriptions under way.
type resync struct {
	// dirty holds the subscribers whose changes arrived since the
	// request was sent: the changes are newer than the answer may be,
	// so they win over it.
	dirty map[string]bool
	loud  bool
}

// next is the number p's next message of kind carries when none was
// missed: a heartbeat names the last change message.
func (p *peer) next(kind string) uint64 {
	if kind == kindChanges {
		return p.seq + 1
	}
	return p.seq
}

// apply records a change of p's.
func (p *peer) apply(c change) {
	if c.Active {
		p.subs[c.Sub.ID] = c.Sub
	} else {
		delete(p.subs, c.Sub.ID)
	}
	if p.resync != nil {
		p.resync.dirty[c.Sub.ID] = true
	}
}

// receive takes a message of another node on the node subject.
//
// Each node numbers its change messages 1, 2, 3... and its heartbeats
// carry the last number sent. NATS delivers one sender's messages to one
// subscription in order, so a number that is not the one expected means
// messages were lost (a slow consumer, a publish NATS refused, a change
// the sender dropped): the node then lists that peer's subscriptions
// again (resync) and announces what differs from what it had.
func (n *Node) receive(m *nats.Msg) {
	from := m.Header.Get(hdrNode)
	if from == "" || from == n.id {
		return
	}
	kind := m.Header.Get(hdrKind)
	switch kind {
	case kindChanges, kindHeartbeat, kindHello, kindBye:
	default:
		return // a kind of a later version, which this one ignores
	}
	seq, err := headerUint(m.Header, hdrSeq)
	if err != nil {
		n.log.Warn("presence: a message of another node without its sequence", "node", from, "err", err)
		return
	}
	var changes []change
	var broken bool
	if kind == kindChanges {
		if changes, err = decodeChanges(m.Data); err != nil {
			n.log.Warn("presence: changes of another node do not decode", "node", from, "err", err)
			broken = true
		}
	}
	if kind == kindHello {
		select {
		case n.poke <- struct{}{}:
		default:
		}
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if kind == kindBye {
		n.drop(from, "said goodbye", false)
		return
	}
	p := n.peers[from]
	switch {
	case p == nil:
		p = n.join(from, kind, seq)
	case seq != p.next(kind):
		n.stats.gaps.Add(1)
		n.log.Warn("presence: missed changes of another node; listing its subscriptions again", "node", from, "seq", seq, "want", p.next(kind))
		p.stale, p.loud = true, true
	}
	p.heard, p.seq = time.Now(), seq
	if broken {
		p.stale, p.loud = true, true
	}
	// One call of changed for each run of subscribers that came, or went.
	for run := range runs(changes) {
		subs := make([]hub.SubscriptionInfo, len(run))
		for i, c := range run {
			p.apply(c)
			subs[i] = c.Sub
		}
		n.changed(subs, run[0].Active)
	}
	if p.stale && p.resync == nil {
		n.startResync(p)
	}
}

// join records a node heard for the first time, or heard again after it
// was found dead. One whose first message shows that nothing of it was
// missed (its first changes, or a heartbeat before any) is known in full;
// any other is listed (resync), loudly if it was found dead before: its
// subscribers were announced gone.
func (n *Node) join(id, kind string, seq uint64) *peer {
	_, revived := n.dead[id]
	delete(n.dead, id)
	p := &peer{id: id, subs: make(map[string]hub.SubscriptionInfo)}
	n.peers[id] = p
	if first := kind == kindChanges && seq == 1 || kind != kindChanges && seq == 0; !first {
		p.stale, p.loud = true, revived
	}
	if revived {
		n.log.Warn("presence: a node found dead is heard again", "node", id)
	} else {
		n.log.Info("presence: a node joined", "node", id)
	}
	return p
}

// drop forgets a node and announces its subscribers gone; dead says it
// went unheard rather than saying goodbye. n.mu is held.
func (n *Node) drop(id, why string, dead bool) {
	p := n.peers[id]
	if p == nil {
		return
	}
	delete(n.peers, id)
	if dead {
		n.stats.lost.Add(1)
		if len(n.dead) >= maxDead {
			n.forgetOldestDead()
		}
		n.dead[id] = time.Now()
		n.log.Warn("presence: a node is dead: "+why, "node", id, "subscriptions", len(p.subs))
	} else {
		n.log.Info("presence: a node left: "+why, "node", id, "subscriptions", len(p.subs))
	}
	if len(p.subs) > 0 {
		n.changed(slices.Collect(maps.Values(p.subs)), false)
	}
}

// runs yields the runs of changes that all came, or all went, in order.
func runs(changes []change) iter.Seq[[]change] {
	return func(yield func([]change) bool) {
		for len(changes) > 0 {
			i := 1
			for i < len(changes) && changes[i].Active == changes[0].Active {
				i++
			}
			if !yield(changes[:i]) {
				return
			}
			changes = changes[i:]
		}
	}
}

func (n *Node) forgetOldestDead() {
	var oldest string
	for id, at := range n.dead {
		if oldest == "" || at.Before(n.dead[oldest]) {
			oldest = id
		}
	}
	delete(n.dead, oldest)
}

// sweep drops the nodes unheard for DeadAfter heartbeats.
func (n *Node) sweep(now time.Time) {
	limit := DeadAfter * n.cfg.Heartbeat
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, p := range n.peers {
		if now.Sub(p.heard) > limit {
			n.drop(id, "unheard for "+limit.String(), true)
		}
	}
}

// livePeers lists the nodes heard lately.
func (n *Node) livePeers() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.peers))
	for id := range n.peers {
		ids = append(ids, id)
	}
	return ids
}

// startResync lists p's subscriptions again, in a goroutine of its own.
// n.mu is held.
func (n *Node) startResync(p *peer) {
	if n.stopped {
		return
	}
	p.resync = &resync{dirty: make(map[string]bool), loud: p.loud}
	p.stale, p.loud = false, false
	n.stats.resyncs.Add(1)
	n.wg.Go(func() { n.runResync(p) })
}

// runResync asks p for all its subscriptions and makes them n's copy,
// but for the subscribers whose changes arrived meanwhile. Should p not
// answer, the next message of p's starts another.
func (n *Node) runResync(p *peer) {
	answers, missing, err := n.gather(context.Background(), hub.SubscriptionFilter{}, p.id, []string{p.id})
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := p.resync
	p.resync = nil
	if n.peers[p.id] != p {
		return // dropped meanwhile
	}
	got, ok := answers[p.id]
	if !ok || err != nil || len(missing) > 0 {
		p.stale, p.loud = true, p.loud || rs.loud
		if !p.failing {
			n.log.Warn("presence: another node did not list its subscriptions; asking again", "node", p.id, "err", err)
		}
		p.failing = true
		return
	}
	p.failing = false
	listed := make(map[string]hub.SubscriptionInfo, len(got))
	for _, sub := range got {
		listed[sub.ID] = sub
	}
	var gone, came []hub.SubscriptionInfo
	for id, sub := range p.subs {
		if _, ok := listed[id]; !ok && !rs.dirty[id] {
			delete(p.subs, id)
			gone = append(gone, sub)
		}
	}
	for id, sub := range listed {
		if _, ok := p.subs[id]; !ok && !rs.dirty[id] {
			p.subs[id] = sub
			came = append(came, sub)
		}
	}
	if !rs.loud {
		return
	}
	if len(gone) > 0 {
		n.changed(gone, false)
	}
	if len(came) > 0 {
		n.changed(came, true)
	}
}

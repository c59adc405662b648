package presence

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/hub"
)

// Defaults of [Config].
const (
	DefaultSubject     = "herald-presence"
	DefaultHeartbeat   = time.Second
	DefaultListTimeout = time.Second
)

// DeadAfter is how many heartbeat intervals a node may go unheard before
// the others count it dead. They check once an interval, so a node that
// stops without a goodbye is dropped between DeadAfter and DeadAfter+1
// intervals after its last message.
const DeadAfter = 3

// Bounds of what a node keeps waiting.
const (
	// maxQueued is how many of this node's changes may wait to be sent;
	// past it, a change is dropped and the others list this node again.
	maxQueued = 4096
	// maxBatch is how many changes one message carries at most.
	maxBatch = 512
	// maxRequests is how many list requests of other nodes may wait for
	// an answer; past it, a request is dropped and its node answers
	// without this one.
	maxRequests = 1024
	// maxPart bounds a message's JSON, well under NATS's default payload
	// limit of 1 MiB; a larger answer is sent in parts.
	maxPart = 256 << 10
	// maxDead is how many dead nodes a node remembers, to tell one heard
	// again from a new one.
	maxDead = 1024
)

var (
	// ErrIncomplete reports a list without the subscriptions of a node
	// that did not answer in time. The error names the nodes.
	ErrIncomplete = errors.New("presence: a node did not answer in time")
	// ErrClosed reports a list asked of a closed node.
	ErrClosed = errors.New("presence: closed")
)

// Config configures a [Node]. Conn is required; the zero value of every
// other field is its default.
type Config struct {
	// Conn is the connection to NATS, which the node shares (Herald's is
	// the JetStream journal's). The node does not close it.
	Conn *nats.Conn
	// Subject is the prefix of the node's subjects (default
	// [DefaultSubject]): every node of one deployment names the same, and
	// no other deployment on the same NATS does. It must not fall under
	// a JetStream stream's subjects.
	Subject string
	// Heartbeat is how often the node tells the others it is alive
	// (default [DefaultHeartbeat]); a node unheard for [DeadAfter]
	// intervals is dead.
	Heartbeat time.Duration
	// ListTimeout bounds the wait for the other nodes' answers to a list
	// (default [DefaultListTimeout]).
	ListTimeout time.Duration
	// Logger receives what the node notices of the others (default
	// slog.Default()).
	Logger *slog.Logger
}

// Node is this process's part in the presence of a cluster. Its methods
// are safe for concurrent use.
type Node struct {
	cfg       Config
	nc        *nats.Conn
	id        string
	subj      subjects
	log       *slog.Logger
	partLimit int

	// Set by Serve.
	local   func() []hub.SubscriptionInfo
	changed func([]hub.SubscriptionInfo, bool)

	// out holds this node's changes until run sends them; lost says one
	// was dropped since the last message, which leaves a hole in the
	// sequence for the others to notice. poke asks run for a heartbeat
	// now (a node said hello).
	out  chan change
	lost atomic.Bool
	poke chan struct{}

	// mu guards the other nodes' state, and orders the calls of changed.
	// stopped, set by Close, keeps resyncs from starting.
	mu      sync.Mutex
	peers   map[string]*peer
	dead    map[string]time.Time // when each node was found dead
	stopped bool

	// The lists: this node's requests waiting for answers, its rounds of
	// requests, and the requests of others waiting for this node.
	requests  atomic.Uint64
	gathersMu sync.Mutex
	gathers   map[uint64]*gather
	rounds    rounds
	answers   chan listRequest

	subs      []*nats.Subscription
	closing   chan struct{}
	closeOnce sync.Once
	served    atomic.Bool
	wg        sync.WaitGroup

	logFailure failureLog
	stats      counters
}

// New returns the node of a cluster on cfg.Conn. It sends and hears
// nothing until [Node.Serve].
func New(cfg Config) (*Node, error) {
	if cfg.Conn == nil {
		return nil, errors.New("presence: Config.Conn is required")
	}
	cfg.Subject = cmp.Or(cfg.Subject, DefaultSubject)
	for tok := range strings.SplitSeq(cfg.Subject, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return nil, fmt.Errorf("presence: subject prefix %q: want tokens without wildcards or spaces", cfg.Subject)
		}
	}
	if cfg.Heartbeat < 0 || cfg.ListTimeout < 0 {
		return nil, errors.New("presence: negative Heartbeat or ListTimeout")
	}
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, DefaultHeartbeat)
	cfg.ListTimeout = cmp.Or(cfg.ListTimeout, DefaultListTimeout)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails
	n := &Node{
		cfg:       cfg,
		nc:        cfg.Conn,
		id:        hex.EncodeToString(id[:]),
		subj:      newSubjects(cfg.Subject),
		log:       cfg.Logger,
		partLimit: maxPart,
		out:       make(chan change, maxQueued),
		poke:      make(chan struct{}, 1),
		peers:     make(map[string]*peer),
		dead:      make(map[string]time.Time),
		gathers:   make(map[uint64]*gather),
		answers:   make(chan listRequest, maxRequests),
		closing:   make(chan struct{}),
	}
	if limit := int(cfg.Conn.MaxPayload()) - 4<<10; limit > 0 && limit < n.partLimit {
		n.partLimit = limit
	}
	n.rounds.init()
	return n, nil
}

// ID identifies the node among the others, in their logs and in
// [ErrIncomplete]: 16 hexadecimal digits, new for each process.
func (n *Node) ID() string { return n.id }

// Serve starts the node: it says hello, sends its heartbeats and its
// subscribers' changes, and hears the other nodes. local lists this
// node's subscriptions, for the others' lists; it is called from one
// goroutine at a time, once for all the requests that arrived while the
// previous call ran. changed is told of the subscribers of other nodes
// that came (active) or went, in the order their node sent them, one
// call at a time, for runs of subscribers that all came or all went:
// also, as gone, of the subscribers of a node that stopped (unheard for
// [DeadAfter] heartbeats, or said goodbye), and, as come, of those found
// when a node is heard again or had changes this node missed. Neither
// may call the node. Serve may be called once.
func (n *Node) Serve(local func() []hub.SubscriptionInfo, changed func(subs []hub.SubscriptionInfo, active bool)) error {
	if !n.served.CompareAndSwap(false, true) {
		return errors.New("presence: Serve called twice")
	}
	n.local, n.changed = local, changed
	for subject, handler := range map[string]nats.MsgHandler{
		n.subj.node:           n.receive,
		n.subj.list:           n.receiveRequest,
		n.subj.replies + n.id: n.receiveAnswer,
	} {
		sub, err := n.nc.Subscribe(subject, handler)
		if err != nil {
			n.unsubscribe()
			return fmt.Errorf("presence: subscribing to %s: %w", subject, err)
		}
		n.subs = append(n.subs, sub)
	}
	n.log.Info("presence: this node", "node", n.id)
	n.wg.Add(2)
	go n.run()
	go n.answer()
	return nil
}

func (n *Node) unsubscribe() {
	for _, sub := range n.subs {
		_ = sub.Unsubscribe()
	}
	n.subs = nil
}

// Announce tells the other nodes that a subscriber of this node came
// (active) or went. It never blocks: the change is sent a moment later,
// in order with the others. When too many wait, it is dropped, and the
// other nodes, seeing a hole in this node's sequence, list its
// subscriptions again.
func (n *Node) Announce(sub hub.SubscriptionInfo, active bool) {
	select {
	case n.out <- change{Sub: sub, Active: active}:
	default:
		n.dropChange()
	}
}

// dropChange records a change of this node's that will never be sent.
func (n *Node) dropChange() {
	n.lost.Store(true)
	n.stats.dropped.Add(1)
}

// Close says goodbye to the other nodes, after sending the changes
// announced before, and stops the node. A list waiting for answers
// returns at once with what it has. Close does not close the connection.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.closing)
		// No goroutine starts once these are set: Wait may begin.
		n.rounds.close()
		n.mu.Lock()
		n.stopped = true
		n.mu.Unlock()
		n.wg.Wait()
		if !n.served.Load() {
			return
		}
		n.unsubscribe()
		// The goodbye is on its way before the connection closes.
		if err := n.nc.FlushTimeout(n.cfg.ListTimeout); err != nil && !n.nc.IsClosed() {
			n.log.Warn("presence: flushing the goodbye", "err", err)
		}
	})
	return nil
}

// run sends this node's messages on the node subject, in sequence, and
// sweeps out the nodes unheard for too long.
func (n *Node) run() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.Heartbeat)
	defer tick.Stop()
	var seq uint64
	n.send(kindHello, &seq, nil)
	for {
		select {
		case c := <-n.out:
			n.sendChanges(&seq, c)
		case <-n.poke:
			n.send(kindHeartbeat, &seq, nil)
		case <-tick.C:
			n.send(kindHeartbeat, &seq, nil)
			n.sweep(time.Now())
		case <-n.closing:
			// run is out's one reader: what it holds now is all there is.
			for len(n.out) > 0 {
				n.sendChanges(&seq, <-n.out)
			}
			n.send(kindBye, &seq, nil)
			return
		}
	}
}

// sendChanges sends first and the changes queued behind it, in messages
// of maxBatch changes at most.
func (n *Node) sendChanges(seq *uint64, first change) {
	batch := []change{first}
	for len(batch) < maxBatch && len(n.out) > 0 {
		batch = append(batch, <-n.out)
	}
	ps, err := parts(changesToWire(batch), n.partLimit)
	if err != nil {
		// A payload that is not JSON: the server never makes one.
		n.log.Error("presence: encoding changes", "err", err)
		n.lost.Store(true)
		return
	}
	for _, p := range ps {
		n.send(kindChanges, seq, p)
	}
}

// send sends one message of kind on the node subject. Changes take the
// next number of the sequence, whether NATS takes them or not: one that
// is lost leaves a hole, which the others notice. So does a change
// dropped before it was sent (lost).
func (n *Node) send(kind string, seq *uint64, data []byte) {
	if n.lost.Swap(false) {
		*seq++
	}
	if kind == kindChanges {
		*seq++
	}
	msg := &nats.Msg{Subject: n.subj.node, Header: nats.Header{}, Data: data}
	msg.Header.Set(hdrNode, n.id)
	msg.Header.Set(hdrKind, kind)
	msg.Header.Set(hdrSeq, strconv.FormatUint(*seq, 10))
	err := n.nc.PublishMsg(msg)
	if err != nil && kind == kindChanges {
		n.stats.dropped.Add(1)
	}
	n.logFailure.report(n.log, "presence: sending to the other nodes", err)
}

// failureLog logs the first of a run of failures, and the recovery.
type failureLog struct {
	mu      sync.Mutex
	failing bool
}

func (f *failureLog) report(log *slog.Logger, what string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err != nil && !f.failing:
		log.Warn(what+" fails", "err", err)
	case err == nil && f.failing:
		log.Info(what + " works again")
	}
	f.failing = err != nil
}

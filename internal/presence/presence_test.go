package presence_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/presence"
	"github.com/heraldhub/herald/internal/testutil"
)

// heartbeat is the members' heartbeat: short, so that a dead node is
// found within a second, and long enough that a node of a loaded machine
// (the race detector, other tests) is not found dead while it lives.
const heartbeat = 200 * time.Millisecond

// member is one node of a test cluster and the server it serves: the
// subscriptions it lists, and the other nodes' changes it was told of.
type member struct {
	node *presence.Node
	nc   *nats.Conn

	mu     sync.Mutex
	local  map[string]hub.SubscriptionInfo
	listed atomic.Int64  // calls of list
	stall  chan struct{} // when not nil, list waits until it is closed

	changes chan change
}

// change is one call of a member's changed.
type change struct {
	sub    hub.SubscriptionInfo
	active bool
}

func (c change) String() string { return fmt.Sprintf("%s %t", c.sub.ID, c.active) }

// join starts a member on the NATS servers at url; prepare, if set, may
// adjust its node before Serve. The member stops when the test ends.
func join(t *testing.T, url string, cfg presence.Config, prepare ...func(*member)) *member {
	t.Helper()
	m := &member{nc: natstest.Connect(t, url), local: make(map[string]hub.SubscriptionInfo), changes: make(chan change, 4096)}
	cfg.Conn = m.nc
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, heartbeat)
	cfg.ListTimeout = cmp.Or(cfg.ListTimeout, testutil.WaitTimeout)
	cfg.Logger = slog.New(slog.DiscardHandler)
	node, err := presence.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.node = node
	for _, p := range prepare {
		p(m)
	}
	if err := node.Serve(m.list, m.changed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return m
}

func (m *member) list() []hub.SubscriptionInfo {
	m.listed.Add(1)
	m.mu.Lock()
	stall := m.stall
	m.mu.Unlock()
	if stall != nil {
		<-stall
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.local))
}

func (m *member) changed(subs []hub.SubscriptionInfo, active bool) {
	if len(subs) == 0 {
		panic("changed called with no subscriber")
	}
	for _, sub := range subs {
		m.changes <- change{sub, active}
	}
}

// come adds a subscriber and announces it.
func (m *member) come(id string, selectors ...string) hub.SubscriptionInfo {
	sub := hub.SubscriptionInfo{ID: id, Selectors: selectors, Payload: []byte(`{"of":"` + id + `"}`)}
	m.mu.Lock()
	m.local[id] = sub
	m.mu.Unlock()
	m.node.Announce(sub, true)
	return sub
}

// leave takes a subscriber away and announces it gone.
func (m *member) leave(id string) {
	m.mu.Lock()
	sub := m.local[id]
	delete(m.local, id)
	m.mu.Unlock()
	m.node.Announce(sub, false)
}

// expect waits for the next changes the member is told of: want, in
// order, or in any order when unordered.
func (m *member) expect(t *testing.T, unordered bool, want ...string) {
	t.Helper()
	var got []string
	timeout := time.After(testutil.WaitTimeout)
	for len(got) < len(want) {
		select {
		case c := <-m.changes:
			got = append(got, c.String())
		case <-timeout:
			t.Fatalf("changes: got %q, want %q", got, want)
		}
	}
	if unordered {
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changes: got %q, want %q", got, want)
	}
}

// waitPeers waits until each member hears the others.
func waitPeers(t *testing.T, members ...*member) {
	t.Helper()
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		for i, m := range members {
			if n := m.node.Peers(); n != len(members)-1 {
				return fmt.Errorf("member %d hears %d nodes, want %d", i, n, len(members)-1)
			}
		}
		return nil
	})
}

// ids lists the IDs of subs, in order.
func ids(subs []hub.SubscriptionInfo) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return slices.Sorted(slices.Values(out))
}

func list(t *testing.T, m *member, f hub.SubscriptionFilter) []hub.SubscriptionInfo {
	t.Helper()
	subs, err := m.node.Subscriptions(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// The changes of each node reach every other node, on any NATS server of
// a cluster, in the order they were made, and never the node that made
// them.
func TestChangesReachEveryOtherNode(t *testing.T) {
	testutil.CheckNoLeaks(t)
	c := natstest.RunCluster(t, 3)
	var ms []*member
	for _, s := range c.Servers {
		ms = append(ms, join(t, s.URL(), presence.Config{Subject: "p"}))
	}
	a, b, d := ms[0], ms[1], ms[2]
	waitPeers(t, ms...)

	x := a.come("x", "books", "/news/{id}")
	a.come("y", "books")
	a.leave("y")
	for _, m := range []*member{b, d} {
		m.expect(t, false, "x true", "y true", "y false")
	}
	b.come("z", "news")
	// a hears z first: it was told nothing of its own x and y.
	a.expect(t, false, "z true")
	d.expect(t, false, "z true")

	a.leave("x")
	b.expect(t, false, "x false")
	got := <-d.changes
	if got.active || got.sub.ID != "x" || !slices.Equal(got.sub.Selectors, x.Selectors) || string(got.sub.Payload) != string(x.Payload) {
		t.Errorf("x went: got %+v, want %+v", got, x)
	}
}

// A list gathers the subscriptions of every other node, in parts when
// they are many, and only those the filter selects.
func TestListGathersEveryNode(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	a := join(t, srv.URL(), presence.Config{}, func(m *member) { m.node.SetPartLimit(200) })
	b := join(t, srv.URL(), presence.Config{})
	asker := join(t, srv.URL(), presence.Config{})
	waitPeers(t, a, b, asker)
	var want []string
	for i := range 40 {
		want = append(want, a.come(fmt.Sprintf("a%02d", i), "books", "a/"+strings.Repeat("x", i)).ID)
	}
	want = append(want, b.come("b", "news").ID)
	asker.come("mine", "books")

	if got := ids(list(t, asker, hub.SubscriptionFilter{})); !slices.Equal(got, want) {
		t.Errorf("all: got %q, want %q", got, want)
	}
	if got := list(t, asker, hub.SubscriptionFilter{Selector: "news"}); len(got) != 1 || got[0].ID != "b" || string(got[0].Payload) != `{"of":"b"}` {
		t.Errorf("news: got %+v, want b", got)
	}
	got := list(t, asker, hub.SubscriptionFilter{Selector: "books", Subscriber: "a07"})
	if len(got) != 1 || got[0].ID != "a07" || !slices.Equal(got[0].Selectors, []string{"books"}) {
		t.Errorf("a07's books: got %+v", got)
	}
	if got := list(t, asker, hub.SubscriptionFilter{Subscriber: "mine"}); len(got) != 0 {
		t.Errorf("the asker's own subscriber: got %+v, want none (the server lists its own)", got)
	}
}

// A node that does not answer in time is left out, and the error names
// it; the list waits no longer than the timeout.
func TestListWithoutANodeThatDoesNotAnswer(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	const timeout = 300 * time.Millisecond
	a := join(t, srv.URL(), presence.Config{})
	stuck := join(t, srv.URL(), presence.Config{}, func(m *member) { m.stall = make(chan struct{}) })
	t.Cleanup(func() { close(stuck.stall) })
	asker := join(t, srv.URL(), presence.Config{ListTimeout: timeout})
	waitPeers(t, a, stuck, asker)
	a.come("x", "books")
	stuck.come("y", "books")
	asker.expect(t, true, "x true", "y true")

	started := time.Now()
	subs, err := asker.node.Subscriptions(context.Background(), hub.SubscriptionFilter{})
	took := time.Since(started)
	if !errors.Is(err, presence.ErrIncomplete) || !strings.Contains(err.Error(), stuck.node.ID()) {
		t.Errorf("err = %v, want ErrIncomplete naming %s", err, stuck.node.ID())
	}
	if got := ids(subs); !slices.Equal(got, []string{"x"}) {
		t.Errorf("got %q, want the answering node's x", got)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("the list took %v, want about %v", took, timeout)
	}
}

// Many lists at once cost each node one listing at a time: they share
// rounds, and a node answers every request waiting with one listing.
func TestListsShareRounds(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	slow := join(t, srv.URL(), presence.Config{})
	asker := join(t, srv.URL(), presence.Config{})
	other := join(t, srv.URL(), presence.Config{})
	waitPeers(t, slow, asker, other)
	slow.come("x", "books")
	var requests atomic.Int64 // the asker's
	watch := natstest.Connect(t, srv.URL())
	if _, err := watch.Subscribe(presence.DefaultSubject+".list", func(m *nats.Msg) {
		if m.Header.Get("Herald-Node") == asker.node.ID() {
			requests.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	// The first listing waits until every list below is called.
	slow.mu.Lock()
	slow.stall = make(chan struct{})
	slow.mu.Unlock()

	const calls = 200
	var wg sync.WaitGroup
	var called atomic.Int64
	errs := make(chan error, 2*calls)
	for i := range 2 * calls {
		m, f := asker, hub.SubscriptionFilter{}
		if i%2 == 1 {
			// Other filters, from another node: no round to share.
			m, f = other, hub.SubscriptionFilter{Subscriber: fmt.Sprint("x", i%7)}
		}
		wg.Go(func() {
			called.Add(1)
			subs, err := m.node.Subscriptions(context.Background(), f)
			if err == nil && f.Subscriber == "" && !slices.Equal(ids(subs), []string{"x"}) {
				err = fmt.Errorf("got %q", ids(subs))
			}
			errs <- err
		})
	}
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		if n, c := slow.listed.Load(), called.Load(); n != 1 || c != 2*calls {
			return fmt.Errorf("%d listings began, %d lists called", n, c)
		}
		return nil
	})
	slow.mu.Lock()
	close(slow.stall)
	slow.stall = nil
	slow.mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each filter took two rounds at most: the one under way when the
	// first listing stalled, and the next, which every call that came
	// meanwhile shared. Each round cost a listing at most.
	if n, filters := slow.listed.Load(), int64(1+7); n > 2*filters {
		t.Errorf("%d lists of %d filters cost %d listings", 2*calls, filters, n)
	}
	// Two requests, or three when a call was still on its way to join the
	// second round as it started.
	if n := requests.Load(); n > 3 {
		t.Errorf("%d lists of one filter sent %d requests", calls, n)
	}
}

// A node whose connection is cut, without a goodbye, is found dead after
// DeadAfter heartbeats: its subscribers are announced gone, and lists no
// longer wait for it.
func TestDeadNode(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	a := join(t, srv.URL(), presence.Config{})
	victim := join(t, srv.URL(), presence.Config{})
	waitPeers(t, a, victim)
	victim.come("x", "books")
	victim.come("y", "news")
	a.expect(t, false, "x true", "y true")

	cut := time.Now()
	victim.nc.Close()
	a.expect(t, true, "x false", "y false")
	if took, limit := time.Since(cut), (presence.DeadAfter+1)*heartbeat; took > limit+time.Second {
		t.Errorf("found dead %v after the cut, want within %v", took, limit)
	}
	started := time.Now()
	if subs := list(t, a, hub.SubscriptionFilter{}); len(subs) != 0 {
		t.Errorf("the dead node's subscriptions are listed: %+v", subs)
	}
	if took := time.Since(started); took > time.Second {
		t.Errorf("the list waited %v for a dead node", took)
	}
}

// A node that closes says goodbye after the changes it announced: the
// others announce its remaining subscribers gone at once.
func TestGoodbye(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	// No heartbeat during the test: only the goodbye can drop the node.
	cfg := presence.Config{Heartbeat: time.Hour}
	a := join(t, srv.URL(), cfg)
	leaving := join(t, srv.URL(), cfg)
	waitPeers(t, a, leaving)
	leaving.come("x", "books")
	a.expect(t, false, "x true")
	leaving.come("y", "books")
	leaving.node.Close()
	a.expect(t, false, "y true")
	a.expect(t, true, "x false", "y false")
	if n := a.node.Peers(); n != 0 {
		t.Errorf("a still hears %d nodes", n)
	}
}

// A node that starts learns the subscribers of the nodes already there
// without announcing them (its watchers list them), so that it can
// announce them gone if their node dies.
func TestNewNodeLearnsSubscribers(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	old := join(t, srv.URL(), presence.Config{})
	old.come("x", "books")
	newcomer := join(t, srv.URL(), presence.Config{})
	waitPeers(t, old, newcomer)
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		if !newcomer.node.Settled() {
			return errors.New("the newcomer has not listed old's subscriptions")
		}
		return nil
	})
	// The first change the newcomer is told of is x gone.
	old.nc.Close()
	newcomer.expect(t, false, "x false")
}

// A change that never reached the others (dropped, too many waiting)
// leaves a hole in the sequence: the others list the node again and
// announce what they had missed.
func TestMissedChanges(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	a := join(t, srv.URL(), presence.Config{})
	b := join(t, srv.URL(), presence.Config{})
	waitPeers(t, a, b)
	b.come("x", "books")
	a.expect(t, false, "x true")

	// y comes and x goes, and neither change is sent.
	b.mu.Lock()
	b.local["y"] = hub.SubscriptionInfo{ID: "y", Selectors: []string{"news"}}
	delete(b.local, "x")
	b.mu.Unlock()
	b.node.DropChange()
	b.node.DropChange()
	a.expect(t, true, "x false", "y true")
	// And then b's changes are heard as before.
	b.come("z", "books")
	a.expect(t, false, "z true")
}

// Nodes that cannot hear each other for a while (their NATS server down)
// find each other dead, then, heard again, announce each other's
// subscribers back.
func TestNodeHeardAgain(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := natstest.Run(t)
	a := join(t, srv.URL(), presence.Config{})
	b := join(t, srv.URL(), presence.Config{})
	waitPeers(t, a, b)
	b.come("x", "books")
	a.expect(t, false, "x true")

	srv.Stop()
	a.expect(t, false, "x false")
	srv.Start()
	a.expect(t, false, "x true")
	if got := ids(list(t, a, hub.SubscriptionFilter{})); !slices.Equal(got, []string{"x"}) {
		t.Errorf("after: got %q, want x", got)
	}
}

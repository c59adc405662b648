package herald_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/presence"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/token"
)

// TestNodesShareJetStream: two hubs on one JetStream stream are one hub to
// their clients: an update published on either reaches the subscribers of
// both, in the same order, and a subscriber resumes on one node from an
// event it received from the other.
func TestNodesShareJetStream(t *testing.T) {
	nats := natstest.Run(t)
	cfg := herald.Config{Anonymous: true, NATS: herald.NATS{URL: nats.URL(), Stream: "NODES"}, Logger: slog.New(slog.DiscardHandler)}
	a, urlA := start(t, cfg)
	b, urlB := start(t, cfg)

	onA := subscribe(t, urlA, "t", client.Subscriber{})
	onB := subscribe(t, urlB, "t", client.Subscriber{})
	var ids []string
	for i, h := range []*herald.Hub{a, b, a, b} {
		ids = append(ids, publish(t, h, herald.Update{Topics: []string{"t"}, Data: []byte{'0' + byte(i)}}))
	}
	for _, s := range []*client.Stream{onA, onB} {
		for i, id := range ids {
			if ev := next(t, s); ev.ID != id || string(ev.Data) != string(rune('0'+i)) {
				t.Fatalf("event %d: got %s %q, want %s", i, ev.ID, ev.Data, id)
			}
		}
	}
	// A subscriber of A that had the first event resumes on B.
	resumed := subscribe(t, urlB, "t", client.Subscriber{LastEventID: ids[0]})
	for _, id := range ids[1:] {
		if ev := next(t, resumed); ev.ID != id {
			t.Fatalf("resumed on B: got %s, want %s", ev.ID, id)
		}
	}
}

// TestReadyFollowsJetStream: a node is unready while it cannot reach
// JetStream, and ready again, by itself, once it can.
func TestReadyFollowsJetStream(t *testing.T) {
	nats := natstest.Run(t)
	_, hubURL := start(t, herald.Config{Anonymous: true, NATS: herald.NATS{URL: nats.URL()}, Logger: slog.New(slog.DiscardHandler)})
	ready := strings.TrimSuffix(hubURL, "/.well-known/mercure") + "/readyz"
	status := func() int {
		resp, err := http.Get(ready)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitStatus := func(want int) {
		t.Helper()
		testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
			if got := status(); got != want {
				return fmt.Errorf("/readyz = %d, want %d", got, want)
			}
			return nil
		})
	}
	waitStatus(http.StatusOK)
	nats.Stop()
	waitStatus(http.StatusServiceUnavailable)
	nats.Start()
	waitStatus(http.StatusOK)
}

// subscriptionsNode is a node started by startSubscriptionsNodes, and a
// token that may read its subscriptions API and events.
type subscriptionsNode struct {
	hub   *herald.Hub
	url   string // the hub URL
	admin string // a token for the subscriptions API and events
}

// startSubscriptionsNodes starts n hubs with the subscriptions API on
// one JetStream stream, and waits until each hears the others.
func startSubscriptionsNodes(t *testing.T, n int) []subscriptionsNode {
	t.Helper()
	nats := natstest.Run(t)
	secret := []byte("the nodes' shared secret")
	key, err := token.ParseKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := token.Mint(key, token.Claims{Subscribe: []string{"/.well-known/mercure/subscriptions{/topic}{/subscriber}"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := herald.Config{
		Anonymous: true, SubscriptionEvents: true, PublisherKey: secret,
		NATS: herald.NATS{URL: nats.URL(), Stream: "SUBSCRIPTIONS"}, Logger: slog.New(slog.DiscardHandler),
	}
	var nodes []subscriptionsNode
	for range n {
		h, hubURL := start(t, cfg)
		nodes = append(nodes, subscriptionsNode{hub: h, url: hubURL, admin: admin})
	}
	for _, node := range nodes {
		waitMetric(t, node, "herald_cluster_nodes", float64(n))
	}
	return nodes
}

// metric reads a metric without labels from the node's /metrics.
func metric(t *testing.T, node subscriptionsNode, name string) (float64, error) {
	t.Helper()
	resp, err := (&http.Client{Timeout: testutil.WaitTimeout}).Get(strings.TrimSuffix(node.url, "/.well-known/mercure") + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("no metric %s", name)
	}
	var v float64
	_, err = fmt.Sscan(string(m[1]), &v)
	return v, err
}

func waitMetric(t *testing.T, node subscriptionsNode, name string, want float64) {
	t.Helper()
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		got, err := metric(t, node, name)
		if err == nil && got != want {
			err = fmt.Errorf("%s = %v, want %v", name, got, want)
		}
		return err
	})
}

// subscription is a subscription document of the subscriptions API or of
// a subscription event.
type subscription struct {
	Topic      string `json:"topic"`
	Subscriber string `json:"subscriber"`
	Active     bool   `json:"active"`
}

// listed lists the subscribers of topic, sorted, as node's subscriptions
// API answers.
func listed(t *testing.T, node subscriptionsNode, topic string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", node.url+"/subscriptions/"+url.QueryEscape(topic), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+node.admin)
	resp, err := (&http.Client{Timeout: testutil.WaitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		LastEventID   string         `json:"lastEventID"`
		Subscriptions []subscription `json:"subscriptions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET subscriptions/%s: %d, %v", topic, resp.StatusCode, err)
	}
	if doc.LastEventID == "" {
		t.Errorf("GET subscriptions/%s: no lastEventID", topic)
	}
	var ids []string
	for _, s := range doc.Subscriptions {
		ids = append(ids, s.Subscriber)
	}
	return slices.Sorted(slices.Values(ids))
}

// watch subscribes to the subscription events of every topic on node.
func watch(t *testing.T, node subscriptionsNode) *client.Stream {
	t.Helper()
	return subscribe(t, node.url, "/.well-known/mercure/subscriptions/{topic}/{subscriber}",
		client.Subscriber{Header: http.Header{"Authorization": {"Bearer " + node.admin}}})
}

// nextEvent returns the next subscription event of topic on a watcher's
// stream, skipping those of other topics (the watcher's own).
func nextEvent(t *testing.T, watcher *client.Stream, topic string) subscription {
	t.Helper()
	for {
		var s subscription
		if ev := next(t, watcher); json.Unmarshal(ev.Data, &s) != nil {
			t.Fatalf("subscription event %q", ev.Data)
		}
		if s.Topic == topic {
			return s
		}
	}
}

// TestSubscriptionsAcrossNodes: the subscriptions API of any node lists
// the subscribers of every node, pollers included, and the watchers of
// any node see the subscribers of every node come and go.
func TestSubscriptionsAcrossNodes(t *testing.T) {
	testutil.CheckNoLeaks(t)
	nodes := startSubscriptionsNodes(t, 2)
	a, b := nodes[0], nodes[1]
	watcher := watch(t, b)

	onA := subscribe(t, a.url, "books", client.Subscriber{})
	came := nextEvent(t, watcher, "books")
	if !came.Active {
		t.Fatalf("first event of A's subscriber: %+v, want it active", came)
	}
	onB := subscribe(t, b.url, "books", client.Subscriber{})
	fromB := nextEvent(t, watcher, "books")
	poller := subscribe(t, a.url, "books", client.Subscriber{Transport: client.TransportPoll})
	polling := nextEvent(t, watcher, "books")
	want := slices.Sorted(slices.Values([]string{came.Subscriber, fromB.Subscriber, polling.Subscriber}))
	for _, node := range nodes {
		if got := listed(t, node, "books"); !slices.Equal(got, want) {
			t.Errorf("%s lists %q, want %q", node.url, got, want)
		}
	}

	// One subscription of A, read on B.
	req, _ := http.NewRequest("GET", b.url+"/subscriptions/books/"+url.QueryEscape(came.Subscriber), nil)
	req.Header.Set("Authorization", "Bearer "+b.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var one subscription
	err = json.NewDecoder(resp.Body).Decode(&one)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || one != came {
		t.Errorf("GET A's subscription on B: %d %+v %v, want %+v", resp.StatusCode, one, err, came)
	}

	onA.Close()
	if went := nextEvent(t, watcher, "books"); went.Active || went.Subscriber != came.Subscriber {
		t.Errorf("after A's subscriber left: %+v, want it inactive", went)
	}
	want = slices.DeleteFunc(want, func(id string) bool { return id == came.Subscriber })
	for _, node := range nodes {
		if got := listed(t, node, "books"); !slices.Equal(got, want) {
			t.Errorf("%s lists %q after A's subscriber left, want %q", node.url, got, want)
		}
	}
	onB.Close()
	poller.Close()
}

// TestSubscriptionsOfADeadNode: a node that dies without a word (its NATS
// connection cut) is left out of lists at once, which then wait no longer
// than the list timeout for it, and within DeadAfter+1 heartbeats its
// subscribers are announced gone to the other nodes' watchers.
func TestSubscriptionsOfADeadNode(t *testing.T) {
	testutil.CheckNoLeaks(t)
	nodes := startSubscriptionsNodes(t, 2)
	victim, b := nodes[0], nodes[1]
	watcher := watch(t, b)
	subscribe(t, victim.url, "books", client.Subscriber{})
	came := nextEvent(t, watcher, "books")
	if got := listed(t, b, "books"); !slices.Equal(got, []string{came.Subscriber}) {
		t.Fatalf("B lists %q, want the victim's %s", got, came.Subscriber)
	}

	victim.hub.CutNATS()
	cut := time.Now()
	if got := listed(t, b, "books"); len(got) != 0 {
		t.Errorf("B lists %q once the victim cannot answer", got)
	}
	if took, limit := time.Since(cut), presence.DefaultListTimeout+time.Second; took > limit {
		t.Errorf("the list took %v, want at most %v", took, limit)
	}
	if n, err := metric(t, b, "herald_cluster_lists_incomplete_total"); err != nil || n < 1 {
		t.Errorf("herald_cluster_lists_incomplete_total = %v, %v; want the list counted", n, err)
	}

	went := nextEvent(t, watcher, "books")
	if took, limit := time.Since(cut), (presence.DeadAfter+1)*presence.DefaultHeartbeat; went.Active || went.Subscriber != came.Subscriber || took > limit+time.Second {
		t.Errorf("%v after the cut: %+v, want %s inactive within %v", took, went, came.Subscriber, limit)
	}
	waitMetric(t, b, "herald_cluster_nodes", 1)
	started := time.Now()
	if got := listed(t, b, "books"); len(got) != 0 {
		t.Errorf("B lists %q once the victim is dead", got)
	}
	if took := time.Since(started); took >= presence.DefaultListTimeout {
		t.Errorf("a list waited %v for a dead node", took)
	}
}

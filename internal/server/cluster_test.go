package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/server"
)

// fakeCluster stands for the other nodes of a cluster: their
// subscriptions, and what this node told them.
type fakeCluster struct {
	mu        sync.Mutex
	local     func() []hub.SubscriptionInfo
	changed   func([]hub.SubscriptionInfo, bool)
	announced []string // "ID active"
	others    []hub.SubscriptionInfo
	err       error
}

func (c *fakeCluster) Serve(local func() []hub.SubscriptionInfo, changed func([]hub.SubscriptionInfo, bool)) error {
	c.local, c.changed = local, changed
	return nil
}

func (c *fakeCluster) Announce(sub hub.SubscriptionInfo, active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announced = append(c.announced, fmt.Sprint(sub.ID, " ", active))
}

func (c *fakeCluster) Subscriptions(_ context.Context, f hub.SubscriptionFilter) ([]hub.SubscriptionInfo, error) {
	return f.Apply(c.others), c.err
}

func (c *fakeCluster) told() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.announced)
}

// On a cluster, the subscriptions API lists the other nodes'
// subscriptions with the node's own, also when some node did not answer;
// the other nodes' subscribers reach the node's watchers, and only the
// node's own are told to the others (no loop).
func TestSubscriptionsOfACluster(t *testing.T) {
	cluster := &fakeCluster{
		others: []hub.SubscriptionInfo{
			{ID: "urn:uuid:00000000-0000-4000-8000-000000000000", Selectors: []string{"books", "news"}, Payload: json.RawMessage(`{"user":"bob"}`)},
		},
		err: errors.New("a node did not answer in time"),
	}
	e := newEnv(t, func(c *server.Config, _ *hub.Config) { c.SubscriptionEvents, c.Cluster = true, cluster })
	if cluster.local == nil {
		t.Fatal("New did not start the cluster")
	}
	watch := "/.well-known/mercure/subscriptions/{topic}/{subscriber}"
	watcher := e.subscribe("topic="+url.QueryEscape(watch), bearer(e.token(auth.MintClaims{Subscribe: []string{watch}})))
	watcher.next(t) // its own subscription
	s := e.subscribe("topic=books", bearer(e.token(auth.MintClaims{Subscribe: []string{"books"}})))
	local := watcher.next(t)
	var doc struct{ Subscriber string }
	if err := json.Unmarshal(local.Data, &doc); err != nil {
		t.Fatal(err)
	}
	if got := len(cluster.local()); got != 2 {
		t.Errorf("the node lists %d subscriptions for the others, want 2", got)
	}

	admin := e.token(auth.MintClaims{Subscribe: []string{"/.well-known/mercure/subscriptions{/topic}{/subscriber}"}})
	req, _ := http.NewRequest("GET", e.ts.URL+"/.well-known/mercure/subscriptions/books", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Subscriptions []struct{ Topic, Subscriber string }
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	want := []string{cluster.others[0].ID + " books", doc.Subscriber + " books"}
	var got []string
	for _, s := range list.Subscriptions {
		got = append(got, s.Subscriber+" "+s.Topic)
	}
	if err != nil || resp.StatusCode != http.StatusOK || !slices.Equal(got, want) {
		t.Errorf("GET subscriptions/books: %d %v: %q, want %q", resp.StatusCode, err, got, want)
	}

	cluster.changed(cluster.others, false)
	for _, topic := range cluster.others[0].Selectors {
		ev := watcher.next(t)
		var went struct {
			Topic, Subscriber string
			Active            bool
			Payload           json.RawMessage
		}
		if err := json.Unmarshal(ev.Data, &went); err != nil || went.Topic != topic || went.Subscriber != cluster.others[0].ID || went.Active || string(went.Payload) != `{"user":"bob"}` {
			t.Errorf("another node's subscriber went: %s, want %s inactive", ev.Data, topic)
		}
	}
	s.close()
	watcher.next(t) // the node's own subscriber went
	// The watcher came, then books's subscriber came and went; of bob, the
	// other nodes' subscriber, nothing.
	if got, want := cluster.told(), []string{doc.Subscriber + " true", doc.Subscriber + " false"}; len(got) != 3 || !slices.Equal(got[1:], want) {
		t.Errorf("told the other nodes %q, want the watcher, then %q", got, want)
	}
}

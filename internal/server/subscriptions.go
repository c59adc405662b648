package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
)

// mercureContext is the JSON-LD context of Mercure's subscription documents.
const mercureContext = "https://mercure.rocks/"

// subscriptionDoc is one subscription as the Mercure subscriptions API and
// subscription events describe it: one per (selector, subscriber) pair.
type subscriptionDoc struct {
	Context    string          `json:"@context,omitempty"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Topic      string          `json:"topic"`
	Subscriber string          `json:"subscriber"`
	Active     bool            `json:"active"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	// LastEventID is the hub's newest event, on a single subscription
	// as the API answers it (not in a list's entries, nor in events).
	LastEventID string `json:"lastEventID,omitempty"`
}

// subscriptionTopic is the topic of the subscription events of one
// (selector, subscriber) pair; it is also the pair's URL path. Both parts
// are query-escaped, as Mercure does, so that the selector's slashes and
// the subscriber URN's colons match a `{topic}`/`{subscriber}` template.
func subscriptionTopic(sel, subscriber string) string {
	return hubPath + "/subscriptions/" + url.QueryEscape(sel) + "/" + url.QueryEscape(subscriber)
}

// Cluster carries the subscriptions API and the subscription events
// across the nodes of a cluster: internal/presence implements it over
// NATS. A Cluster that is also a prometheus.Collector is registered with
// the server's metrics.
type Cluster interface {
	// Serve starts taking part, once: local lists this node's
	// subscriptions for the other nodes' lists; changed announces to this
	// node's watchers subscribers of other nodes that all came (active)
	// or all went, also when their node stopped without announcing it.
	Serve(local func() []hub.SubscriptionInfo, changed func(subs []hub.SubscriptionInfo, active bool)) error
	// Announce tells the other nodes that a subscriber of this node came
	// or went. It must not block.
	Announce(sub hub.SubscriptionInfo, active bool)
	// Subscriptions returns the subscriptions of the other nodes that f
	// selects, each node's as it answers a request made after the call.
	// An error that is not ctx's comes with what was gathered: the
	// subscriptions of a node that did not answer in time are missing.
	Subscriptions(ctx context.Context, f hub.SubscriptionFilter) ([]hub.SubscriptionInfo, error)
}

// announce sends Mercure subscription events (private, so only
// subscribers granted the subscriptions topics see them) when a stream
// opens and when it closes: one per selector, as one batch. They are hub
// announcements, not journaled events: no fsync and no history for them,
// and never a delay for ordinary events (see hub.Announce). A watcher
// that reconnects reads the subscriptions API for what it missed.
func (s *Server) announce(sub *hub.Subscription, active bool) {
	// A poll's poller is announced instead (see pollers); and without
	// subscription events the ID, made at each call, is not needed.
	if sub.Unlisted() || !s.cfg.SubscriptionEvents {
		return
	}
	s.announceSubscriber(sub.ID(), sub.Selectors(), sub.Payload(), active)
}

// announceSubscriber sends the subscription events of one subscriber of
// this node, to its watchers and to the other nodes'.
func (s *Server) announceSubscriber(id string, sels selector.Set, payload json.RawMessage, active bool) {
	if !s.cfg.SubscriptionEvents {
		return
	}
	sub := hub.SubscriptionInfo{ID: id, Selectors: sels.Strings(), Payload: payload}
	s.announceLocally([]hub.SubscriptionInfo{sub}, active)
	if s.cfg.Cluster != nil {
		s.cfg.Cluster.Announce(sub, active)
	}
}

// maxAnnounceBatch bounds the events of one batch of announcements, so
// that the many subscribers of another node (a node that died) reach the
// hub as many batches, between which its fan-out delivers journal events.
const maxAnnounceBatch = 256

// announceLocally sends the subscription events of subscribers, of this
// node or another, to this node's watchers.
func (s *Server) announceLocally(subs []hub.SubscriptionInfo, active bool) {
	var events []*journal.Event
	flush := func() {
		if len(events) > 0 && !s.cfg.Hub.Announce(events...) {
			s.refusals.Info("subscription events dropped: too many waiting", "events", len(events), "first", events[0].Topics[0])
		}
		events = nil
	}
	for _, sub := range subs {
		for _, sel := range sub.Selectors {
			topic := subscriptionTopic(sel, sub.ID)
			data, err := json.Marshal(subscriptionDoc{
				Context: mercureContext, ID: topic, Type: "Subscription",
				Topic: sel, Subscriber: sub.ID, Active: active, Payload: sub.Payload,
			})
			if err != nil {
				s.log.Error("subscription event", "err", err)
				return
			}
			events = append(events, &journal.Event{Topics: []string{topic}, Data: data, Private: true})
		}
		if len(events) >= maxAnnounceBatch {
			flush()
		}
	}
	flush()
}

// localSubscriptions lists this node's subscriptions: its hub's, and one
// per poller.
func (s *Server) localSubscriptions() []hub.SubscriptionInfo {
	return append(s.cfg.Hub.Subscriptions(), s.pollers.list()...)
}

// handleSubscriptions is the Mercure subscriptions API: the active
// subscriptions, all of them, those of one selector, or one.
func (s *Server) handleSubscriptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.SubscriptionEvents {
			writeError(w, errorf(http.StatusNotFound, "subscriptions API disabled"))
			return
		}
		claims, _, err := s.authenticate(r, r.URL.Query(), s.cfg.SubscriberKey)
		if err != nil || claims == nil {
			writeError(w, s.unauthorized(r, cmp.Or(err, auth.ErrNoToken)))
			return
		}
		// The requested URL is itself a topic: a subscriber may read it when
		// its subscribe claim matches, as Mercure specifies.
		self := r.URL.EscapedPath()
		if !claims.CanSubscribe(self) {
			s.forbidden(w, "not allowed to read "+self)
			return
		}
		topic, subscriber := r.PathValue("topic"), r.PathValue("subscriber")
		filter := hub.SubscriptionFilter{Selector: topic, Subscriber: subscriber}
		subs := filter.Apply(s.localSubscriptions())
		if s.cfg.Cluster != nil {
			others, err := s.cfg.Cluster.Subscriptions(r.Context(), filter)
			if err != nil && r.Context().Err() != nil {
				return // the client is gone
			}
			if err != nil {
				s.faults.Warn("subscriptions API: a list without some nodes", "err", err)
			}
			subs = append(subs, others...)
		}
		slices.SortFunc(subs, func(a, b hub.SubscriptionInfo) int { return strings.Compare(a.ID, b.ID) })
		var docs []subscriptionDoc
		for _, info := range subs {
			for _, sel := range info.Selectors {
				docs = append(docs, subscriptionDoc{
					ID: subscriptionTopic(sel, info.ID), Type: "Subscription",
					Topic: sel, Subscriber: info.ID, Active: true, Payload: info.Payload,
				})
			}
		}
		if subscriber != "" {
			if len(docs) == 0 {
				writeError(w, errorf(http.StatusNotFound, "no such subscription"))
				return
			}
			doc := docs[0]
			doc.Context, doc.LastEventID = mercureContext, s.headID()
			writeJSON(w, "application/ld+json", doc)
			return
		}
		if docs == nil {
			docs = []subscriptionDoc{}
		}
		last := s.headID()
		writeJSON(w, "application/ld+json", map[string]any{
			"@context":      mercureContext,
			"id":            self,
			"type":          "Subscriptions",
			"lastEventID":   last,
			"subscriptions": docs,
		})
	})
}

// headID is the ID of the hub's newest event, or earliest when it has
// none: what the subscriptions API gives as lastEventID.
func (s *Server) headID() string {
	if last := s.cfg.Hub.HeadID(); last != "" {
		return last
	}
	return earliest
}

package server

import (
	"cmp"
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
}

// subscriptionTopic is the topic of the subscription events of one
// (selector, subscriber) pair; it is also the pair's URL path. Both parts
// are query-escaped, as Mercure does, so that the selector's slashes and
// the subscriber URN's colons match a `{topic}`/`{subscriber}` template.
func subscriptionTopic(sel, subscriber string) string {
	return hubPath + "/subscriptions/" + url.QueryEscape(sel) + "/" + url.QueryEscape(subscriber)
}

// announce sends Mercure subscription events (private, so only
// subscribers granted the subscriptions topics see them) when a stream
// opens and when it closes: one per selector, as one batch. They are hub
// announcements, not journaled events: no fsync and no history for them,
// and never a delay for ordinary events (see hub.Announce). A watcher
// that reconnects reads the subscriptions API for what it missed.
func (s *Server) announce(sub *hub.Subscription, active bool) {
	if sub.Unlisted() {
		return // a poll: its poller is announced instead (see pollers)
	}
	s.announceSubscriber(sub.ID(), sub.Selectors(), sub.Payload(), active)
}

// announceSubscriber sends the subscription events of one subscriber.
func (s *Server) announceSubscriber(id string, sels selector.Set, payload json.RawMessage, active bool) {
	if !s.cfg.SubscriptionEvents {
		return
	}
	events := make([]*journal.Event, 0, len(sels))
	for _, sel := range sels {
		topic := subscriptionTopic(sel.String(), id)
		data, err := json.Marshal(subscriptionDoc{
			Context: mercureContext, ID: topic, Type: "Subscription",
			Topic: sel.String(), Subscriber: id, Active: active, Payload: payload,
		})
		if err != nil {
			s.log.Error("subscription event", "err", err)
			return
		}
		events = append(events, &journal.Event{Topics: []string{topic}, Data: data, Private: true})
	}
	if !s.cfg.Hub.Announce(events...) {
		s.refusals.Info("subscription events dropped: too many waiting", "subscriber", id)
	}
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
		var docs []subscriptionDoc
		subs := append(s.cfg.Hub.Subscriptions(), s.pollers.list()...)
		slices.SortFunc(subs, func(a, b hub.SubscriptionInfo) int { return strings.Compare(a.ID, b.ID) })
		for _, info := range subs {
			if subscriber != "" && info.ID != subscriber {
				continue
			}
			for _, sel := range info.Selectors {
				if topic != "" && sel != topic {
					continue
				}
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
			doc.Context = mercureContext
			writeJSON(w, "application/ld+json", doc)
			return
		}
		if docs == nil {
			docs = []subscriptionDoc{}
		}
		last := s.cfg.Hub.HeadID()
		if last == "" {
			last = earliest
		}
		writeJSON(w, "application/ld+json", map[string]any{
			"@context":      mercureContext,
			"id":            self,
			"type":          "Subscriptions",
			"lastEventID":   last,
			"subscriptions": docs,
		})
	})
}

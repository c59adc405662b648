package state

import (
	"errors"
	"net/url"
	"strings"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state/tree"
)

// TopicPrefix starts the topic of every state event; it lies in the
// hub's reserved namespace, where publishers may not publish.
const TopicPrefix = "/.well-known/mercure/db/"

// LocationTopic is the topic of the writes at exactly p.
func LocationTopic(ns string, p tree.Path) string {
	var b strings.Builder
	b.WriteString(TopicPrefix)
	b.WriteString(ns)
	if len(p) == 0 {
		b.WriteByte('/')
	}
	for _, k := range p {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(k))
	}
	return b.String()
}

// SubtreeTopic is the topic of the writes at p or below it.
func SubtreeTopic(ns string, p tree.Path) string {
	if len(p) == 0 {
		return TopicPrefix + ns + "/*"
	}
	return LocationTopic(ns, p) + "/*"
}

// eventTopics are the topics of a write at p: its location first, then
// the subtree topic of p and of each ancestor.
func eventTopics(ns string, p tree.Path) []string {
	topics := make([]string, 0, len(p)+2)
	topics = append(topics, LocationTopic(ns, p))
	for i := len(p); i >= 0; i-- {
		topics = append(topics, SubtreeTopic(ns, p[:i]))
	}
	return topics
}

// WatchTopics are the topics a stream watching p subscribes to: the
// subtree of p, and the location of each ancestor of p.
func WatchTopics(ns string, p tree.Path) []string {
	topics := make([]string, 0, len(p)+1)
	topics = append(topics, SubtreeTopic(ns, p))
	for i := range len(p) {
		topics = append(topics, LocationTopic(ns, p[:i]))
	}
	return topics
}

// IsEvent reports whether ev is a write to the state tree.
func IsEvent(ev *journal.Event) bool {
	return len(ev.Topics) > 0 && strings.HasPrefix(ev.Topics[0], TopicPrefix) &&
		(ev.Type == "put" || ev.Type == "patch")
}

var errNotState = errors.New("state: not a state event")

// DecodeEvent returns the namespace and the write of a state event.
func DecodeEvent(ev *journal.Event, lim tree.Limits) (ns string, op *tree.Op, err error) {
	if !IsEvent(ev) {
		return "", nil, errNotState
	}
	ns, _, ok := strings.Cut(ev.Topics[0][len(TopicPrefix):], "/")
	if !ok || ns == "" {
		return "", nil, errNotState
	}
	op, err = tree.DecodeOp(ev.Type, ev.Data, lim)
	if err != nil {
		return "", nil, err
	}
	return ns, op, nil
}

package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/hub"
)

// The headers of presence messages.
const (
	hdrNode    = "Herald-Node"    // the node that sent the message
	hdrKind    = "Herald-Kind"    // on the node subject: kindChanges, kindHeartbeat, kindHello or kindBye
	hdrSeq     = "Herald-Seq"     // on the node subject: the sender's last change message
	hdrRequest = "Herald-Request" // a list request's number, sent back with each part of its answer
	hdrTo      = "Herald-To"      // a list request for one node only
	hdrPart    = "Herald-Part"    // a part of an answer, from 0
	hdrLast    = "Herald-Last"    // "1" on the last part of an answer
)

// The kinds of messages on the node subject.
const (
	// kindChanges carries subscribers of the sender that came or went,
	// and takes the next number of the sender's sequence.
	kindChanges = "changes"
	// kindHeartbeat says the sender is alive and names the last number
	// of its sequence.
	kindHeartbeat = "heartbeat"
	// kindHello is a heartbeat that asks every node for one at once: a
	// node sends it when it starts, to learn its peers without waiting
	// for their next heartbeats.
	kindHello = "hello"
	// kindBye says the sender stops: its subscribers are gone.
	kindBye = "bye"
)

// subjects are the NATS subjects of one deployment's presence.
type subjects struct {
	node string // changes and heartbeats of every node
	list string // list requests, which every node answers
	// replies is the prefix of each node's reply subject: replies + ID.
	replies string
}

func newSubjects(prefix string) subjects {
	return subjects{node: prefix + ".node", list: prefix + ".list", replies: prefix + ".reply."}
}

// wireSubscription is a subscription as nodes send it to each other.
type wireSubscription struct {
	ID        string          `json:"id"`
	Selectors []string        `json:"selectors"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	// Active, in a change, says whether the subscriber came or went.
	Active bool `json:"active,omitempty"`
}

// change is a subscriber of one node that came (Active) or went.
type change struct {
	Sub    hub.SubscriptionInfo
	Active bool
}

// wireFilter is a list request's filter.
type wireFilter struct {
	Selector   string `json:"selector,omitempty"`
	Subscriber string `json:"subscriber,omitempty"`
}

// parts encodes items as JSON arrays of at most limit bytes each (an item
// larger than limit alone in its array), at least one array.
func parts(items []wireSubscription, limit int) ([][]byte, error) {
	var out [][]byte
	buf := []byte{'['}
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		if len(buf) > 1 && len(buf)+len(b)+2 > limit {
			out = append(out, append(buf, ']'))
			buf = []byte{'['}
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
	}
	return append(out, append(buf, ']')), nil
}

// toWire is subs as an answer carries them.
func toWire(subs []hub.SubscriptionInfo) []wireSubscription {
	out := make([]wireSubscription, len(subs))
	for i, s := range subs {
		out[i] = wireSubscription{ID: s.ID, Selectors: s.Selectors, Payload: s.Payload}
	}
	return out
}

// changesToWire is changes as a message carries them.
func changesToWire(changes []change) []wireSubscription {
	out := make([]wireSubscription, len(changes))
	for i, c := range changes {
		out[i] = wireSubscription{ID: c.Sub.ID, Selectors: c.Sub.Selectors, Payload: c.Sub.Payload, Active: c.Active}
	}
	return out
}

// decodeSubscriptions decodes one part of an answer.
func decodeSubscriptions(data []byte) ([]hub.SubscriptionInfo, error) {
	var ws []wireSubscription
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, err
	}
	out := make([]hub.SubscriptionInfo, len(ws))
	for i, w := range ws {
		if w.ID == "" {
			return nil, errors.New("a subscription without an ID")
		}
		out[i] = hub.SubscriptionInfo{ID: w.ID, Selectors: w.Selectors, Payload: w.Payload}
	}
	return out, nil
}

// decodeChanges decodes the changes of a message.
func decodeChanges(data []byte) ([]change, error) {
	var ws []wireSubscription
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, err
	}
	out := make([]change, len(ws))
	for i, w := range ws {
		if w.ID == "" {
			return nil, errors.New("a change without a subscriber ID")
		}
		out[i] = change{Sub: hub.SubscriptionInfo{ID: w.ID, Selectors: w.Selectors, Payload: w.Payload}, Active: w.Active}
	}
	return out, nil
}

// headerUint reads a header holding a number.
func headerUint(h nats.Header, key string) (uint64, error) {
	v := h.Get(key)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("header %s %q: not a number", key, v)
	}
	return n, nil
}

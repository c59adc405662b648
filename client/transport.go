package client

import "fmt"

// Transport is the way a [Stream] receives its events. Every transport
// delivers the same events, in the same order, with the same resume
// cursor, so a subscription may change transport between two streams
// without a gap or a duplicate.
type Transport int

const (
	// TransportSSE holds a server-sent event stream (GET with Accept:
	// text/event-stream), as a browser's EventSource does. It works with
	// any Mercure hub.
	TransportSSE Transport = iota
	// TransportPoll long-polls: GET with Accept: application/json, from the
	// stream's cursor, which the hub holds until an event is due or its
	// wait ends. It suits networks whose proxies buffer streams.
	TransportPoll
	// TransportWebSocket subscribes over a WebSocket speaking herald.v1
	// ([Subprotocol]) to the selectors of the URL's `topic` parameters.
	TransportWebSocket
)

func (t Transport) String() string {
	switch t {
	case TransportSSE:
		return "sse"
	case TransportPoll:
		return "poll"
	case TransportWebSocket:
		return "ws"
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

package bench

import (
	"context"
	"fmt"
)

// transport is how subscribers receive events (and, for the publish
// scenario, how publishers send them): the --transport flag.
type transport string

const (
	// transportSSE is a GET held open as an event stream; publishes are
	// HTTP POSTs. Every Mercure hub speaks it.
	transportSSE transport = "sse"
	// transportWS is a WebSocket speaking herald.v1: one subscription per
	// socket, or pipelined publishes.
	transportWS transport = "ws"
	// transportPoll is long polling: a GET answered with JSON, again and
	// again, each carrying the cursor of the answer before.
	transportPoll transport = "poll"
)

func parseTransport(s string) (transport, error) {
	switch t := transport(s); t {
	case transportSSE, transportWS, transportPoll:
		return t, nil
	}
	return "", fmt.Errorf("unknown transport %q: want sse, ws or poll", s)
}

// feed is one subscriber's connection to the hub, whatever the transport.
type feed interface {
	// next returns the next event's ID and data. Both alias buffers of
	// the feed that the following call overwrites.
	next() (id, data []byte, err error)
	// cursor is where the subscriber stood when the feed opened: the ID
	// after which it receives every event ("" when the hub did not say).
	// A subscriber that drops before its first event resumes from there.
	cursor() string
	// close ends the feed; a next blocked on it returns.
	close() error
}

// open subscribes over tr, resuming after req.lastEventID when it is not
// empty.
func (t *target) open(ctx context.Context, tr transport, req subscribeRequest) (feed, error) {
	switch tr {
	case transportWS:
		return nilIfErr(t.subscribeWS(ctx, req))
	case transportPoll:
		return nilIfErr(t.startPoll(ctx, req))
	}
	return nilIfErr(t.subscribe(ctx, req))
}

// nilIfErr turns a typed nil feed into a nil interface.
func nilIfErr[F feed](f F, err error) (feed, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

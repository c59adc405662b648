// Package client subscribes to server-sent event streams with the
// semantics of the browser's EventSource, and publishes updates to a
// Mercure-compatible hub such as Herald. Against Herald, it can also
// subscribe by long polling or over a WebSocket, with the same API and
// the same resume cursor, and publish over a WebSocket.
//
// # Subscribing
//
// A [Subscriber] describes the subscription; [Subscriber.Connect] opens it
// and returns a [Stream]. Read the events with [Stream.Events]:
//
//	sub := &client.Subscriber{URL: "https://hub.example/.well-known/mercure?topic=news"}
//	stream, err := sub.Connect(ctx)
//	if err != nil {
//		return err
//	}
//	defer stream.Close()
//	for ev, err := range stream.Events() {
//		if err != nil {
//			return err // the stream ended for good
//		}
//		fmt.Println(ev.Type, string(ev.Data))
//	}
//
// or register listeners by event type with [Stream.AddListener] and drive
// them with [Stream.Run]. The events are [sse.Event] values decoded exactly
// as a browser decodes them.
//
// A stream reconnects the way a browser does, and more carefully:
//
//   - When a connection ends or fails, the stream waits its reconnection
//     time (the server's `retry:` if it sent one, else
//     [Subscriber.InitialRetry]) and reconnects, sending the last event ID
//     it received in Last-Event-ID (none when it is empty).
//   - While attempts keep failing, the wait doubles up to
//     [Subscriber.MaxRetry], with jitter; a connection on which the server
//     sent anything resets it.
//   - A silent connection is dropped after [Subscriber.ReadTimeout].
//   - A response other than 200 OK ([ErrBadStatus], including the 204 No
//     Content with which a server tells clients to stop) or one that is not
//     text/event-stream ([ErrBadContentType]) closes the stream for good,
//     except that a reconnection answered with a temporary status (see
//     [StatusError.Temporary]) waits its Retry-After and goes on trying.
//
// A hub that no longer knows the ID a stream resumes from replays from the
// oldest event it keeps; [Subscriber.OnCursorUnknown] tells the client
// that events may be missing.
//
// # Transports
//
// [Subscriber.Transport] chooses how the events come; the events, their
// order, the cursor ([Stream.LastEventID]) and the reconnection rules are
// the same for each:
//
//   - [TransportSSE], the default: an event stream, from any Mercure hub.
//   - [TransportPoll]: long polling, for networks whose proxies buffer
//     streams. A poll is one GET answered with JSON; a connection is a run
//     of polls, each from the cursor the previous answer gave, the first
//     of them answered at once. A refused poll counts as a refused
//     reconnection (429 and 503 wait their Retry-After), a failed one as a
//     lost connection.
//   - [TransportWebSocket]: one socket per stream, subscribing with the
//     selectors of the URL's `topic` parameters. The hub closing the
//     socket is a [*CloseError]: the stream reconnects unless the code
//     says the client must change first (see [CloseError.Temporary]).
//     Herald's answer to a refused subscription is a [*StatusError], as
//     over HTTP.
//
// Redirects are followed by the http.Client, which keeps the request's
// headers on the way except that it drops Authorization and Cookie when
// the redirect leaves the original host (and its subdomains).
//
// # Publishing
//
// A [Publisher] posts an [Update] to the hub's publish endpoint and returns
// the ID the event was given; the herald publish command is built on it.
// A [WebSocketPublisher] publishes over one WebSocket instead, pipelining
// the publishes of any number of goroutines: for many small updates, it
// saves a request per update.
package client

// Package client subscribes to server-sent event streams with the
// semantics of the browser's EventSource, and publishes updates to a
// Mercure-compatible hub such as Herald.
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
// Redirects are followed by the http.Client, which keeps the request's
// headers on the way except that it drops Authorization and Cookie when
// the redirect leaves the original host (and its subdomains).
//
// # Publishing
//
// A [Publisher] posts an [Update] to the hub's publish endpoint and returns
// the ID the event was given; the herald publish command is built on it.
package client

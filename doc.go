// Package herald embeds Herald's hub in a Go program: a Mercure-compatible
// publish/subscribe hub with exact resume, served as an [http.Handler] on
// the program's own server, and published to straight from Go.
//
// # Starting a hub
//
// [New] starts a [Hub] from a [Config] whose zero value works: events kept
// in memory, publishing from Go only. Set [Config.Journal] to keep events
// in a bbolt file, [Config.PublisherKey] to let publishers in over HTTP
// with a JWT (package [github.com/heraldhub/herald/token] mints them),
// [Config.Anonymous] or [Config.SubscriberKey] to let subscribers in.
//
//	h, err := herald.New(herald.Config{Journal: "events.db", Anonymous: true})
//	if err != nil {
//		return err
//	}
//	defer h.Close(context.Background())
//
// # Mounting it
//
// The hub answers at the paths a Mercure hub has, so mount it at them:
//
//	mux.Handle("/.well-known/mercure", h)  // subscribe and publish
//	mux.Handle("/.well-known/mercure/", h) // the subscriptions API, the cookie endpoint
//	mux.Handle("GET /healthz", h)          // and /readyz, /metrics, as wanted
//
// or mount all of it under a prefix of its own, the hub URL then being
// /realtime/.well-known/mercure:
//
//	mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
//
// Subscribers connect with any Mercure or EventSource client, or with
// package [github.com/heraldhub/herald/client] from Go; a stream is a
// server-sent event stream by default, long polling or a WebSocket on
// request. The http.Server must leave WriteTimeout at zero: streams set a
// deadline on each write instead.
//
// # Publishing
//
// [Hub.Publish] appends an [Update] to the journal and returns its ID; the
// hub then delivers it to every subscriber whose topic selectors match. It
// takes no token and makes no HTTP request, but the update obeys the same
// rules as one published over HTTP.
//
// # Stopping
//
// [Hub.Close] refuses new requests, ends the open streams (clients
// reconnect and resume), waits for the requests in flight, then stops
// delivery and closes the journal. Call it before the http.Server's
// Shutdown.
package herald

// Package server is Herald's HTTP surface: the Mercure publish and subscribe
// endpoints, the subscriptions API, CORS, health, readiness and metrics.
//
// Every route is listed in routes.go. [New] builds a [Server] from a
// [Config]; the server is an http.Handler to mount on an http.Server whose
// WriteTimeout is left at zero (streams set a deadline per write instead).
// Before shutting the http.Server down, call [Server.Drain] so that open
// streams end and clients reconnect elsewhere.
//
// Every subscribe request goes through admission (admission.go): it is
// parsed and authenticated once, then admitted — draining, connection
// and per-client limits ([Limits]), the hub subscription — into a
// session (internal/session) that a transport writes. The SSE transport
// (subscribe.go, push.go) writes the response head, the opening block and
// the replay, then hands the session to a writer of internal/push: the
// hijacked-socket pool for plain HTTP/1.1 on Linux, the handler's own
// goroutine otherwise. docs/architecture.md draws the whole path.
package server

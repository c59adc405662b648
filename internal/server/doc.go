// Package server is Herald's HTTP surface: the Mercure publish and subscribe
// endpoints, the subscriptions API, CORS, health, readiness and metrics.
//
// Every route is listed in routes.go. [New] builds a [Server] from a
// [Config]; the server is an http.Handler to mount on an http.Server whose
// WriteTimeout is left at zero (streams set a deadline per write instead).
// Before shutting the http.Server down, call [Server.Drain] so that open
// streams end and clients reconnect elsewhere.
package server

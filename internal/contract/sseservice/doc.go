// Command sseservice is the test service through which the SSE contract
// test suite (github.com/launchdarkly/sse-contract-tests) drives Herald's
// Go client, package client.
//
// The suite asks the service, over a small REST API, to open streams with
// given options, sends commands to them, and checks what the client
// received through callbacks that the service posts back:
//
//	GET    /              status and capabilities
//	POST   /              open a stream; answers with its URL in Location
//	POST   /streams/{id}  a command: listen (for an event type) or restart
//	DELETE /streams/{id}  close a stream
//	DELETE /              quit
//
// Callbacks go to {callbackUrl}/{n}, n counting from 1 for each stream, as
// JSON objects of kind "event", "comment" or "error". The specification is
// docs/service_spec.md in the suite's repository.
//
// Run it, then the suite against it:
//
//	go run ./internal/contract/sseservice -port 8000
//	sse-contract-tests --url http://localhost:8000
//
// It listens on 127.0.0.1 unless -host says otherwise: it opens connections
// to whatever URL it is given, so it should not be reachable from
// elsewhere.
package main

// Package push writes subscriber streams: a stream's frames, heartbeats
// and last frame, until its [Source] says it is over.
//
// There are two writers of the same [Source]. A [Pool] owns hijacked TCP
// connections (an SSE push stream; a WebSocket connection rides it the
// same way), by a duplicate of each one's descriptor, the net.Conn being
// closed: an idle connection holds no goroutine, no buffer and nothing of
// Go's net package or poller. When a
// source has frames due, its wake callback ([Conn.Wake]) puts the
// connection on a run queue; a few workers drain it with one non-blocking
// writev of the shared frames each. A write that cannot finish at once
// (the client reads slowly) is finished by a goroutine of its own, with
// the write timeout, which hands the connection back when its queue is
// empty. Heartbeats come from one timer for all connections, and an epoll
// set watching for hang-ups closes connections whose client left, with no
// reader goroutine per connection (Linux; elsewhere [NewPool] fails and
// every stream uses [Stream]).
//
// [Stream] is the other writer: it writes one source from the calling
// goroutine, for connections that cannot be hijacked (HTTP/2, TLS).
//
// Both follow the same rules. Heartbeats: at each tick of the heartbeat
// interval, a stream that has written nothing for half an interval gets
// the source's keep-alive frame. Ending: once the source's Err is set,
// the writer stops at the next frame boundary, writes the source's
// Goodbye frame if it has one (best effort), closes, and reports the
// reason to [Source.Closed] exactly once. The package knows nothing of
// HTTP or of any frame format; time comes from a [clock.Clock], so that
// tests can drive it.
package push

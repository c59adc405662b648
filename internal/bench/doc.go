// Package bench is the load generator behind `herald bench`. It measures a
// hub that speaks the Mercure protocol — Herald, or Mercure itself — from
// the outside, the way its users load it: SSE subscribers holding GET
// requests open, publishers POSTing forms. With --transport it measures
// Herald's other transports (docs/protocol.md) the same way: subscribers
// on WebSockets (subprotocol herald.v1, one subscription per socket) or
// long polling, and publishers pipelining over WebSockets.
//
// [Command] is the whole API: the CLI hands it the arguments after "bench".
// Four scenarios measure a Mercure hub:
//
//   - idle holds many subscribers and reports the hub's memory per
//     connection (its RSS, from /proc/<pid> or from its Prometheus /metrics)
//     and how fast connections are accepted;
//   - fanout publishes sequence-numbered, timestamped events to many
//     subscribers of one topic at a fixed rate, or a sweep of rates, and
//     reports delivery latency percentiles, deliveries per second and any
//     lost or duplicated event, and for a sweep the knee where p99 latency
//     passes a threshold;
//   - publish measures how many publishes per second concurrent publishers
//     get through, and their latency;
//   - resume makes a subscriber miss many events and checks that resuming
//     with Last-Event-ID replays every one exactly once, in order, and how
//     fast.
//
// Five more measure Herald's state tree through its Firebase-compatible
// REST API (PUT, PATCH and GET of /db/{path}.json) and REST streams (GET
// with Accept: text/event-stream), with --token the hub's
// --db-admin-token or --key its JWT secret:
//
//   - db-write: concurrent writers each putting a small leaf, one write
//     after another; writes per second and their latency;
//   - db-fanout: many streams watching one location that one writer
//     changes at a fixed rate; latency from the write to the event at each
//     stream, loss and duplicates, as fanout reports them;
//   - db-spread: many streams each watching a location of its own, the
//     writes spread over them;
//   - db-snapshot: a large location read whole, by GET and as a stream's
//     first put, one read after another and many at once; time, exactness
//     and the hub's peak RSS;
//   - db-resume: a stream misses many changes and resumes with
//     Last-Event-ID; it must get the changes, each once, and not the whole
//     location again.
//
// The writer puts its send time in the value it writes; a stream reads it
// back from the event's data (the leaf, not the whole JSON, is parsed), so
// latency is the receive time less the send time on one clock.
//
// Subscribers are cheap on the client side: each is one goroutine and two
// small buffers, speaking just enough HTTP/1.1 and SSE to subscribe and read
// id and data lines (the sse package has the complete decoder; this one only
// needs to keep up). WebSocket subscribers likewise hold one goroutine and
// one buffer, gobwas/ws making the handshake and frame headers; pollers
// write their requests on a keep-alive connection of their own; and the
// JSON of either is walked for the few fields the bench needs, not decoded.
// State tree writers keep one connection each and speak HTTP/1.1 on it
// themselves. Beyond what one process may hold open they are spread
// over child processes — the same executable re-run as `herald bench
// --child`, speaking JSON lines over stdin and stdout.
// Client source addresses rotate over 127.0.0.2-127.0.0.9 so that the
// ephemeral ports of one address do not run out.
//
// A cluster (Herald nodes sharing one journal) is measured through all of
// its nodes at once: --hub takes their URLs, comma-separated; idle and
// fanout open the i-th share of the subscribers on the i-th node (and
// fanout publishes on the first), publish and resume spread their
// publishers over the nodes, and resume may resume on another node
// (--resume-hub). With a --pid for each node, the hub's memory and CPU are
// the nodes' sums, and idle reports each node's memory per connection.
//
// Only hubs on this machine can be measured: a hub URL whose host does not
// resolve to loopback is refused with [ErrNotLoopback].
package bench

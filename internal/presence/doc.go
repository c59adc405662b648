// Package presence makes the subscribers of every node of a Herald
// cluster known to the others, over core NATS (no JetStream, nothing
// stored): Mercure's subscription events reach the watchers of every
// node, and a subscriptions API list on any node shows the subscribers of
// every live node.
//
// A [Node] is one process's part. The server hands it the subscribers
// that come and go ([Node.Announce]), a way to list its own
// subscriptions, and a way to announce another node's subscribers to its
// own watchers ([Node.Serve]); it asks for the other nodes'
// subscriptions with [Node.Subscriptions].
//
// # Subjects
//
// Under a prefix (Config.Subject, "herald-presence.<stream>" in Herald,
// which no JetStream stream of Herald's holds):
//
//   - prefix.node: each node's messages, numbered: its subscribers'
//     changes (a JSON array of {id, selectors, payload, active}), and a
//     heartbeat every Config.Heartbeat (1 s), a hello when it starts
//     (every node sends a heartbeat back at once) and a goodbye when it
//     closes. Every node hears every other; a node skips its own
//     messages, and never sends on what it heard, so nothing loops.
//   - prefix.list: list requests, with a filter (a selector, a
//     subscriber), answered by every node but the sender, or by the one
//     node named.
//   - prefix.reply.<node>: the answers to one node's requests, in parts
//     of at most 256 KiB.
//
// # Nodes alive and dead
//
// A node unheard for [DeadAfter] heartbeats (3 s by default; sweeps run
// once a heartbeat, so within 4 s) is dead: the others stop waiting for
// its answers, and announce each of its subscribers gone, to their own
// watchers, so that none is left with a ghost. A node that says goodbye
// is dropped at once, the same way. A node heard again after it was
// found dead is listed, and its subscribers announced back.
//
// Core NATS delivers at most once. Each node numbers its change messages,
// and its heartbeats carry the last number: a node that finds a number
// missing (a message lost, or a change the sender dropped because too
// many waited) asks the sender for all its subscriptions, and announces
// the differences from what it knew; changes that arrive while it waits
// for that list win over it, being newer.
//
// # Lists
//
// [Node.Subscriptions] sends one request and gathers the answers of every
// node heard lately, until all have answered or Config.ListTimeout (1 s)
// has passed: a node that has not answered by then is left out, and the
// error says which. Calls with the same filter share their rounds (a call
// waits for the next request, never one sent before it), and a node
// answers the requests that wait with one listing of its own, so a flood
// of lists costs each node one listing at a time.
//
// # What a watcher can count on
//
// A watcher subscribed to the subscription events on any node, before it
// asks for a list on any node, learns every subscriber of every live
// node: a subscriber that came or went before a node answered is in that
// node's part of the list as it was then, and one that came or went
// after it is announced to the watcher, since its change reaches every
// node's watchers. The list and the events may overlap; the latest event
// of a subscriber, when there is one since the watcher subscribed, tells
// its state. Subscription events are not journaled (see [hub.Hub.Announce]):
// none is replayed from a list's lastEventID, on one node as on many.
package presence

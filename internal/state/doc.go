// Package state is Herald's JSON state tree: the data behind the Firebase
// Realtime Database–compatible REST API and its REST streams.
//
// # One order for everything
//
// A write is an event in the journal, like a publish: durable when the
// journal says so, ordered with every other event, fanned out by the hub,
// replicated wherever the journal is. The tree is a view of the journal:
// [Store] keeps it in memory as an immutable [tree.Node] per namespace, so
// a read or a stream's first snapshot takes a root and its journal
// position in one step, with no lock held while it is encoded. A stream
// then subscribes to the hub right after that position (see
// hub.SubscribeRequest.Positioned): no change is lost or applied twice
// between the snapshot and the live events.
//
// Writes are serialized, so that a condition (if-match) or a server value
// ({".sv": {"increment": 1}}) is decided against every write before it,
// but they do not wait for each other's commits: each is computed on the
// newest accepted tree and queued to the journal under the store's lock
// ([journal.Queuer]), and the commits that follow group them (one fsync
// for many writes). The readable tree advances, in journal order, as
// commits complete; a write returns once the tree a read sees holds it.
//
// # Events
//
// A write at path P of namespace ns is an event of type "put" or "patch"
// whose data is the Firebase stream payload with the absolute path
// ({"path": "/a/b", "data": ...}), and whose topics are
// /.well-known/mercure/db/{ns}{P} (the write's location) then
// /.well-known/mercure/db/{ns}{Q}/* for P and each of its ancestors Q:
// a stream watching W subscribes to W's "/*" topic (writes at or below W)
// and to the location topic of each ancestor of W (writes above W that
// replace it), and so receives exactly the writes that affect it. The
// events are private: a Mercure subscriber whose token grants such a
// topic may subscribe to it too, and sees the writes with absolute paths.
//
// # Durability
//
// With the bolt journal the tree is also kept in the journal's file (see
// [internal/state/boltstate]), updated in the commit of each write, so a
// restart loads it as of the last durable event however little of the
// journal retention keeps.
package state

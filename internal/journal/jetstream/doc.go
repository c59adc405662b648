// Package jetstream is Herald's clustered journal: a [journal.Journal]
// kept in one NATS JetStream stream, which every Herald node appends to
// and follows, so that an event published on any node reaches the
// subscribers of every node, and a subscriber resumes on any node.
//
// [Open] takes a *nats.Conn, or URLs and nats.Options (credentials, TLS),
// and the stream's name; it creates the stream if it is missing, and
// refuses one whose configuration does not fit ([ErrStreamConfig]).
//
// # The stream
//
// The stream holds one subject filter, Subject + ".>" ("herald.>" by
// default). An event whose ID the journal generates is a message on
// "herald.ev"; an event whose publisher chose its ID is a message on a
// subject of its own, "herald.id." and a hash of the ID, published with
// Nats-Expected-Last-Subject-Sequence: 0, so that JetStream stores it
// only if no retained event holds the ID. The ID is thus unique for as
// long as its event is retained, from whichever node, however long after
// JetStream's duplicate window; the claim is the event itself, one message
// stored in one step, so no crash can leave an ID claimed without its
// event (as a separate key-value bucket could), and the claim goes when
// retention removes the event. [Journal.Lookup] finds the ID by its
// subject.
//
// Every field of an event is a header of its message, and Data its
// payload: Herald-Topic (once per topic, in order), Herald-Type,
// Herald-Id, Herald-Retry (nanoseconds), Herald-Private, Herald-Time
// (Unix nanoseconds), and Herald-Epoch and Herald-Pub, which the journal
// uses. A value's '%', spaces and control characters are escaped as %XX,
// since NATS trims the spaces around a value and cannot carry line breaks.
//
// An event's Seq is its stream sequence, the same on every node. Its Time
// is when the node that appended it queued it, by that node's clock. The
// epoch, which generated IDs carry ([journal.FormatID]), is the stream's
// creation time: every node agrees on it, and a stream deleted and created
// again has a new one, so that the IDs of the first resolve to
// [journal.ErrUnknownID] in the second instead of naming whatever event
// took their position. A journal that finds its stream deleted or
// replaced under it stops ([ErrStreamGone]).
//
// [journal.Retention] is the stream's MaxMsgs and MaxAge, which JetStream
// applies. The journal also stops serving an event that MaxAge no longer
// allows, by its own clock, without waiting for the server to remove it.
//
// # Order
//
// Appends are pipelined: [Journal.Queue] publishes the event at once,
// with a reply subject, and returns; the acknowledgement arrives on the
// journal's one reply subscription. Many appends are in flight at a time,
// and throughput does not wait one round trip per event. The events are
// stored in the order of the Queue calls, for three reasons:
//
//   - Queue publishes under a lock, on the journal's one connection, so
//     the connection sends the messages in the order of the calls (and
//     buffers them in that order while it reconnects);
//   - NATS delivers the messages of a connection in order, and the
//     stream's leader stores them in the order they arrive, replicating
//     them in that order;
//   - the journal never sends a message twice: a retry would store it
//     after the messages sent behind it. (nats.go's PublishAsync retries
//     on "no responders", which is one reason the journal publishes on
//     its own.)
//
// An event the stream refuses (its ID is taken; no leader at that moment)
// is not stored, and its wait fails; the events queued after it are
// stored all the same, in order: what is stored is in the order of the
// calls, with that one missing. [Journal.Append], which orders nothing but
// its own event, appends an event again when JetStream could not take it
// ([ErrUnavailable]); Queue never does.
//
// # Lost acknowledgements
//
// An acknowledgement can be lost with the connection, or not come within
// Options.Timeout while a cluster elects a leader: the event may then be
// stored or not. The journal does not answer a failure for an event that
// may be stored (a publisher trying again would store it twice): it finds
// out. It sends a fence, a publish that the stream's leader refuses,
// saying what its last position is; arriving after the event, its answer
// shows that the leader has dealt with it. Once the stream holds that
// position, the journal looks for the event's Herald-Pub header between
// the newest position it knew when it sent the event and that one. Found,
// the append succeeded, at that position; not found, it was not stored,
// and fails with ErrUnavailable. The wait lasts as long as JetStream is
// unreachable, or until Close.
//
// # Reading and following
//
// [Journal.Read] asks the stream's leader for its last position, then
// reads up to it in batches of direct gets, which any replica answers. A
// replica may lag the leader: when one has nothing to give, the leader
// gives the next event. So a Read returns every event that any node's
// follower has delivered. [Journal.Lookup] and [Journal.Last] ask the
// leader.
//
// Each journal keeps one tail consumer on the stream: an ephemeral push
// consumer that delivers the headers of each new message, from which the
// journal learns the positions that other nodes store; it is made again,
// from the newest position known, after a gap, or when it falls silent
// and turns out gone (a server restarted, a leader moved). A follower
// ([Journal.Follow]) reads the stream from the last position it delivered
// up to the newest one known, so it survives a restart or a failover
// without gap or duplicate, and a slow follower holds up nobody else.
//
// # Tests
//
// A journal must be opened outside any testing/synctest bubble (nats.go's
// subscriptions wake their goroutines in ways that a bubble forbids), and
// may be used from inside one: its waits for the network block on mutexes
// and its followers look for news on timers, which a bubble allows. The
// package natstest runs nats-server processes for tests (a single server,
// or a cluster), built from the module the project requires.
package jetstream

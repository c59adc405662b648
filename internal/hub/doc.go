// Package hub routes published events to the subscriptions that asked for
// them. It knows nothing of HTTP: transports call [Hub.Subscribe], then
// drive the writing themselves with [Subscription.Replay],
// [Subscription.Ready] and [Subscription.Drain].
//
// A [Hub] sits on a [journal.Journal]. [Hub.Publish] only appends; delivery
// happens in [Hub.Run], which follows the journal from its head and fans
// every event out, so an event published on another node reaches local
// subscribers the same way as a local one.
//
// Fan-out wraps each event once in a [Message] shared by every subscriber.
// A transport registers its encoding as a [Format] (an SSE frame, a
// WebSocket message), and [Message.Frame] encodes a message once per
// format, for every subscriber of that transport. Subscriptions with
// exact topic selectors are found through an index sharded by topic;
// those with `*` or URI template selectors sit on a short separate list
// that is matched event by event. Each subscription owns a queue bounded
// in bytes (of the events' payload and fields, whatever the transport): a
// subscriber that falls further behind is ended with [ErrSlowConsumer]
// instead of ever slowing the publisher or other subscribers, and resumes
// from the journal.
//
// A subscription that names a Last-Event-ID, or a journal position, is
// attached to the live feed before it reads the journal, so that
// [Subscription.Replay] followed by [Subscription.Drain] hands out every
// matching event after that point exactly once and in order: no gap, no
// duplicate.
package hub

// Package journal defines Herald's ordered, durable record of events and
// holds its in-memory implementation.
//
// A [Journal] assigns every appended [Event] a position ([Event.Seq]) that
// is strictly increasing and, unless the publisher chose one, an ID that
// encodes the journal's epoch and that position ([FormatID]). The hub runs
// one [Journal.Follow] per node and fans events out locally; a subscriber
// resuming with Last-Event-ID maps the ID to a position with
// [Journal.Lookup] and replays with [Journal.Read].
//
// [Event.Validate] holds every rule of an event to publish (topics, ID,
// type, retry, data), with the sizes an operator may change in [Limits].
// It returns an [*EventError] that names the field at fault and wraps one
// error value per rule, each an [ErrInvalidEvent]. Journals refuse
// reserved IDs on their own, with the same rule ([CheckReservedID]).
//
// [Memory] keeps events in process memory and loses them on restart; the
// bolt subpackage stores them in a file. Both share [Feed], which turns a
// store that can be read by position into Follow channels, and both pass the
// conformance suite in the journaltest subpackage.
package journal

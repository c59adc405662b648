// Package bolt is Herald's embedded journal: a [journal.Journal] stored in
// a single bbolt file, the default for a server that runs on one machine.
//
// The file holds three buckets: events, keyed by position in big-endian
// order and encoded in a small versioned binary record; ids, the index of
// publisher-chosen IDs; and meta, with the epoch generated when the file
// was created, so that IDs stay valid across restarts while a new file
// makes every older ID unknown.
//
// Appends are group-committed by one goroutine: every append waiting while
// a transaction commits goes into the next one, which costs one fsync for
// all of them. Retention by count and by age is applied by the same
// goroutine, in bounded steps. Followers read the file from their own
// position, so a slow follower catches up instead of losing events.
//
// A file is opened by one process at a time: [Open] fails with [ErrLocked]
// after [Options.LockTimeout] rather than waiting forever. A file that is
// not a journal, or whose bbolt header is damaged, fails with
// [ErrNotJournal]. bbolt does not checksum its data pages, so damage inside
// them is not detected up front and makes bbolt panic when it reads them;
// `bbolt check` diagnoses such a file.
package bolt

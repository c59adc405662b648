// Package bolt is Herald's embedded journal: a [journal.Journal] stored in
// a single bbolt file, the default for a server that runs on one machine.
//
// The file holds three buckets: events, keyed by position in big-endian
// order and encoded in a small versioned binary record; ids, the index of
// publisher-chosen IDs; and meta, with the epoch generated when the file
// was created, so that IDs stay valid across restarts while a new file
// makes every older ID unknown.
//
// Appends are group-committed into a write-ahead log beside the file
// (<file>-wal.0 and <file>-wal.1): one goroutine writes every append
// waiting while the log syncs in one write and one fdatasync, then wakes
// their callers. An applier copies the logged events into the file
// behind them, every 10 ms at most, in one transaction with their IDs,
// the views and retention; Open stores what the log holds past the
// file's last position before serving anything. An acknowledged append
// survives kill -9 and power loss; a record torn by a crash ends the log
// (each record carries a CRC-32C), and nothing after it is replayed.
// Retention by count and by age is applied by the applier, in bounded
// steps; readers see retention by count at once. The newest events, and
// every one not in the file yet, are served from memory; followers read
// the file from their own position, so a slow follower catches up
// instead of losing events.
//
// A file is opened by one process at a time: [Open] fails with [ErrLocked]
// after [Options.LockTimeout] rather than waiting forever. A file that is
// not a journal, or whose bbolt header is damaged, fails with
// [ErrNotJournal]. bbolt does not checksum its data pages, so damage inside
// them is not detected up front and makes bbolt panic when it reads them;
// `bbolt check` diagnoses such a file.
package bolt

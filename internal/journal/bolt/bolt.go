package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhub/herald/internal/journal"
)

// Options configure a [Journal]. The zero value is a durable journal that
// keeps everything.
type Options struct {
	// Retention bounds what the journal keeps; the zero value keeps
	// everything. Events beyond it are removed by the committer, at most a
	// bounded number per transaction so appends never wait long behind a
	// large trim.
	Retention journal.Retention
	// MaxBatch is the most events committed in one transaction; 0 means 1024.
	MaxBatch int
	// MaxBatchDelay is how long the committer waits for more events before
	// committing a batch that is not full. The default, 0, commits as soon
	// as the appenders that are ready have queued, which already batches
	// under load: every append that arrives during one commit's fsync shares
	// the next. A delay helps when publishers come back slower than that,
	// at the cost of up to that much latency on every append.
	MaxBatchDelay time.Duration
	// LockTimeout is how long Open waits for another process holding the
	// file to release it before failing with ErrLocked; 0 means 1s.
	LockTimeout time.Duration
	// NoSync skips fsync, so a crash of the machine may lose or corrupt the
	// journal. For tests and benchmarks only.
	NoSync bool
	// Logger receives reports of records that cannot be decoded (they are
	// skipped); nil means slog.Default().
	Logger *slog.Logger
	// Views are kept in the journal's file and updated in the commit of
	// every event, so that each always matches the journal up to its last
	// position (see [View]).
	Views []View
}

const (
	defaultMaxBatch    = 1024
	defaultLockTimeout = time.Second
	// initialMmapSize is mapped up front so the file can grow this far
	// without bbolt remapping it, which blocks every transaction.
	initialMmapSize = 256 << 20
	// readBatch is how many events Read decodes in one read transaction
	// before releasing it to call fn. (Followers use journal.Feed's batch.)
	readBatch = 512
	// formatVersion is the layout of the buckets, stored in the meta bucket.
	formatVersion = 1
	// probeInterval is the least time between two probes of a failing
	// journal (see [Journal.Check]).
	probeInterval = time.Second
	// maxProbeBytes bounds what a probe writes (see probeSize).
	maxProbeBytes = 16 << 20
)

var (
	bucketMeta   = []byte("meta")
	bucketEvents = []byte("events")
	bucketIDs    = []byte("ids")

	metaFormat  = []byte("format")
	metaEpoch   = []byte("epoch")
	metaCreated = []byte("created")
	// metaLast is the newest position ever committed. It is kept apart from
	// the events so that positions continue after retention removed every
	// event, instead of restarting and colliding with issued IDs.
	metaLast = []byte("last")
	// metaProbe holds a probe's bytes between its two transactions.
	metaProbe = []byte("probe")
)

var (
	// ErrLocked reports a journal file held by another process (or by
	// another Journal in this one).
	ErrLocked = errors.New("journal/bolt: database locked by another process")
	// ErrNotJournal reports a file that is not a Herald journal: not a
	// bbolt database, a damaged one, or one written by something else.
	ErrNotJournal = errors.New("journal/bolt: not a herald journal")
)

// Journal is a [journal.Journal] stored in a bbolt file.
//
// Appends are group-committed: a single committer goroutine writes every
// waiting event in one transaction, one fsync, then wakes their callers.
// Events are stored under their position, so Read and Follow seek straight
// to where they start and stream in batches of bounded size.
type Journal struct {
	db      *bbolt.DB
	path    string
	opts    Options
	epoch   string
	created time.Time
	feed    *journal.Feed

	// mu guards closed against sends on reqs: Append holds it for reading
	// while it queues a request, so Close can close reqs once no sender is
	// left.
	mu     sync.RWMutex
	closed bool
	// reqs queues appends for the committer; Close closes it, and the
	// committer commits what is queued before it exits.
	reqs chan *request
	// committed is closed when the committer has exited.
	committed chan struct{}
	// probes carries Check's probes to the committer, which answers each
	// on the channel it is given. Unbuffered, so that a probe handed over
	// is always answered, even when Close follows.
	probes chan chan<- error
	// written is how the journal's last write went: the last batch logged
	// or transaction that stored events, any write that failed, or a
	// probe. The committer and the applier store it.
	written atomic.Pointer[writeOutcome]
	// wal is the write-ahead log, which the committer writes.
	wal *wal
	// applier stores logged events in the file.
	applier *applier

	// last is the newest position logged and durable. Only the committer
	// writes it, just after each batch; Read, Follow and Lookup see
	// nothing beyond it.
	last atomic.Uint64
	// first and oldest are the position and the time (unix nanoseconds,
	// 0 when none) of the oldest retained event, for Stats. Only the
	// applier writes them.
	first  atomic.Uint64
	oldest atomic.Int64
	log    *slog.Logger
	// recent holds the newest logged events, and every one the file does
	// not hold yet, for fetch.
	recent recentEvents
	// ids holds the publisher-chosen IDs of the events logged but not yet
	// in the file.
	ids loggedIDs

	closeOnce sync.Once
	closeErr  error
}

var (
	_ journal.Journal       = (*Journal)(nil)
	_ journal.Checker       = (*Journal)(nil)
	_ journal.StatsReporter = (*Journal)(nil)
	_ journal.Pipeliner     = (*Journal)(nil)
)

// writeOutcome is how a write to the file went, and when.
type writeOutcome struct {
	at  time.Time
	err error
}

// Open opens the journal file at path, creating it if it does not exist. A
// new file gets a new epoch; an existing one keeps its epoch, so the IDs it
// issued stay valid. Open fails with ErrLocked when another process has the
// file open, and with ErrNotJournal when the file is not a Herald journal.
func Open(path string, opts Options) (*Journal, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: opts.LockTimeout,
		// Every commit writes one page less; Open pays for it by walking
		// the file to rebuild the freelist.
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
		NoSync:          opts.NoSync,
	})
	switch {
	case errors.Is(err, bberrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, opts.LockTimeout)
	case errors.Is(err, bberrors.ErrInvalid), errors.Is(err, bberrors.ErrVersionMismatch), errors.Is(err, bberrors.ErrChecksum):
		return nil, fmt.Errorf("%w: %s: %w", ErrNotJournal, path, err)
	case err != nil:
		return nil, fmt.Errorf("journal/bolt: open %s: %w", path, err)
	}

	j := &Journal{
		db:        db,
		path:      path,
		log:       cmp.Or(opts.Logger, slog.Default()),
		opts:      opts,
		feed:      journal.NewFeed(),
		reqs:      make(chan *request, opts.MaxBatch),
		committed: make(chan struct{}),
		probes:    make(chan chan<- error),
		ids:       loggedIDs{m: make(map[string]uint64)},
	}
	j.applier = newApplier(j)
	if err := db.Update(j.load); err != nil {
		db.Close()
		return nil, err
	}
	j.recent.epoch, j.recent.log, j.recent.path = j.epoch, j.log, path
	// The events the log holds past the file's last position were
	// acknowledged, or may have been: store them before serving anything.
	w, replay, err := openWAL(path, j.epoch, j.applier.applied.Load(), opts.NoSync)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := j.applier.replay(replay); err != nil {
		w.close()
		db.Close()
		return nil, fmt.Errorf("journal/bolt: %s: replaying the write-ahead log: %w", path, err)
	}
	if n := len(replay); n > 0 {
		j.log.Info("journal: replayed the write-ahead log", "path", path, "events", n, "last", replay[n-1].seq)
	}
	j.wal = w
	j.last.Store(j.applier.applied.Load())
	j.recent.release(j.applier.applied.Load())
	j.written.Store(&writeOutcome{at: time.Now()})
	j.applier.began = time.Now()
	go newCommitter(j, w).run()
	go j.applier.run()
	return j, nil
}

// load reads the journal's state from the file, laying out a new journal
// when the file is new.
func (j *Journal) load(tx *bbolt.Tx) error {
	a := j.applier
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return j.create(tx)
	}
	format := meta.Get(metaFormat)
	if len(format) != 1 {
		return fmt.Errorf("%w: %s: no format version", ErrNotJournal, j.path)
	}
	if format[0] != formatVersion {
		return fmt.Errorf("journal/bolt: %s: format version %d, this build reads version %d", j.path, format[0], formatVersion)
	}
	events, ids := tx.Bucket(bucketEvents), tx.Bucket(bucketIDs)
	epoch, lastBytes := meta.Get(metaEpoch), meta.Get(metaLast)
	if events == nil || ids == nil || len(epoch) == 0 || len(lastBytes) != 8 {
		return fmt.Errorf("%w: %s: missing buckets or metadata", ErrNotJournal, j.path)
	}
	j.epoch = string(epoch)
	if created := meta.Get(metaCreated); len(created) == 8 {
		j.created = time.Unix(0, int64(binary.BigEndian.Uint64(created)))
	}
	last := binary.BigEndian.Uint64(lastBytes)

	cur := events.Cursor()
	first := last + 1
	if k, v := cur.First(); k != nil {
		if len(k) != keyLen {
			return fmt.Errorf("%w: %s: event key of %d bytes", ErrNotJournal, j.path, len(k))
		}
		first = binary.BigEndian.Uint64(k)
		if h, err := decodeHead(v); err == nil {
			a.oldest = h.time
		}
		// Never issue a position twice, even if the stored last fell
		// behind the events.
		if k, _ := cur.Last(); len(k) == keyLen && binary.BigEndian.Uint64(k) > last {
			last = binary.BigEndian.Uint64(k)
		}
	}
	a.first = first
	a.applied.Store(last)
	j.setRetained(first, a.oldest)
	return j.createViews(tx)
}

// create lays out an empty journal with a new epoch. It refuses a file
// that already holds someone else's buckets.
func (j *Journal) create(tx *bbolt.Tx) error {
	if tx.ForEach(func([]byte, *bbolt.Bucket) error { return ErrNotJournal }) != nil {
		return fmt.Errorf("%w: %s: the file holds other data", ErrNotJournal, j.path)
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return fmt.Errorf("journal/bolt: %s: create: %w", j.path, err)
	}
	if _, err := tx.CreateBucket(bucketEvents); err != nil {
		return fmt.Errorf("journal/bolt: %s: create: %w", j.path, err)
	}
	if _, err := tx.CreateBucket(bucketIDs); err != nil {
		return fmt.Errorf("journal/bolt: %s: create: %w", j.path, err)
	}
	if err := j.createViews(tx); err != nil {
		return err
	}
	j.epoch = journal.NewEpoch()
	j.created = time.Unix(0, time.Now().UnixNano())
	for _, kv := range []struct{ k, v []byte }{
		{metaFormat, []byte{formatVersion}},
		{metaEpoch, []byte(j.epoch)},
		{metaCreated, binary.BigEndian.AppendUint64(nil, uint64(j.created.UnixNano()))},
		{metaLast, make([]byte, 8)},
	} {
		if err := meta.Put(kv.k, kv.v); err != nil {
			return fmt.Errorf("journal/bolt: %s: create: %w", j.path, err)
		}
	}
	j.applier.first = 1
	j.setRetained(1, time.Time{})
	return nil
}

// setRetained records the position and time of the oldest retained
// event, for Stats.
func (j *Journal) setRetained(first uint64, oldest time.Time) {
	j.first.Store(first)
	var ns int64
	if !oldest.IsZero() {
		ns = oldest.UnixNano()
	}
	j.oldest.Store(ns)
}

// Stats returns what the journal holds, as of its last batch, mostly
// without reading the file.
func (j *Journal) Stats() journal.Stats {
	if j.isClosed() {
		return journal.Stats{}
	}
	// first is loaded before last, which only grows: first <= last+1.
	first, last := j.firstRetained(), j.last.Load()
	if first > last {
		return journal.Stats{}
	}
	st := journal.Stats{Events: last - first + 1, Pending: last - min(j.applier.applied.Load(), last)}
	if ns := j.oldest.Load(); ns != 0 && first == j.first.Load() {
		st.Oldest = time.Unix(0, ns)
	} else {
		// Retention by count is ahead of the file, or the oldest event
		// is not in the file yet.
		st.Oldest = j.timeAt(first)
	}
	return st
}

// Epoch returns the epoch embedded in the IDs this journal generates. It is
// chosen when the file is created and kept across reopens.
func (j *Journal) Epoch() string { return j.epoch }

// Created returns when the journal's file was created, which is when its
// epoch began.
func (j *Journal) Created() time.Time { return j.created }

// Path returns the path of the journal's file.
func (j *Journal) Path() string { return j.path }

// Append queues ev for the committer and waits until it is durable. It sets
// ev.Seq, ev.Time and, when empty, ev.ID. A reserved ID is refused with an
// error wrapping ErrReservedID (see [journal.CheckReservedID]), one still
// retained with ErrDuplicateID.
//
// If ctx ends before the event is queued, Append returns ctx's error. Once
// it is queued, Append waits for the commit whatever ctx does: the
// committer drops an event whose ctx has ended by the time it writes the
// batch, and Append then returns ctx's error. So an error from ctx always
// means the event was not stored.
func (j *Journal) Append(ctx context.Context, ev *journal.Event) error {
	wait, err := j.Queue(ctx, ev)
	if err != nil {
		return err
	}
	return wait()
}

// Queue is Append in two steps: it queues ev for the committer and
// returns at once, and wait waits for the commit and sets ev's fields as
// Append does. Events are stored in the order of the Queue calls that
// returned, so a caller that queues under its own lock fixes the order of
// its events without holding the lock for a commit (the state tree does).
// ev must not change until wait returns. The ctx rules are Append's: an
// event whose ctx has ended by the time its batch is written is dropped,
// and wait returns ctx's error.
func (j *Journal) Queue(ctx context.Context, ev *journal.Event) (wait func() error, err error) {
	if err := journal.CheckReservedID(ev.ID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Encoding here, in the caller's goroutine, spreads the work over the
	// publishers and leaves the committer only writes to do.
	r := &request{ctx: ctx, id: ev.ID, record: encodeEvent(ev), done: make(chan struct{})}

	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return nil, journal.ErrClosed
	}
	select {
	case j.reqs <- r:
	default:
		// The committer is behind: wait for room, within ctx. (Tried
		// first without, as a context's Done may cost a timer to make.)
		select {
		case j.reqs <- r:
		case <-ctx.Done():
			j.mu.RUnlock()
			return nil, ctx.Err()
		}
	}
	j.mu.RUnlock()

	// Once queued, the outcome is a commit away: wait for it rather than
	// answer "failed" for an event that may be stored anyway (a publisher
	// retrying would then publish it twice).
	return func() error {
		<-r.done
		if r.err != nil {
			return r.err
		}
		ev.Seq, ev.Time = r.seq, r.time
		if ev.ID == "" {
			ev.ID = journal.FormatID(j.epoch, r.seq)
		}
		return nil
	}, nil
}

// Pipelined reports true: Append is Queue then wait (see
// [journal.Pipeliner]).
func (j *Journal) Pipelined() bool { return true }

func (j *Journal) isClosed() bool {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.closed
}

// Last returns the position of the newest event committed, even if
// retention has since removed it; 0 when none was.
func (j *Journal) Last(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if j.isClosed() {
		return 0, journal.ErrClosed
	}
	return j.last.Load(), nil
}

// Check reports whether the journal can commit now (see
// [journal.Checker]). It answers with how the last write went: nil after a
// commit that stored events, the error of a commit that failed. A journal
// whose last write failed more than probeInterval ago is probed: the
// committer writes more than the file has free, then removes it (see
// probeSize). That happens at most once per probeInterval, however many
// callers ask, and it is how Check turns nil again once the disk has room
// without waiting for a publish, which a load balancer that believes Check
// would not send.
//
// A journal whose last write succeeded is not probed, however long ago
// that was: a probe able to notice a full disk writes up to maxProbeBytes
// and syncs twice, too much for every readiness check of an idle server.
// Such a journal learns of a full disk from the next commit that fails.
func (j *Journal) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.isClosed() {
		return journal.ErrClosed
	}
	if last := j.written.Load(); last.err == nil || time.Since(last.at) < probeInterval {
		return last.err
	}
	answer := make(chan error, 1)
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return journal.ErrClosed
	}
	select {
	case j.probes <- answer:
	case <-ctx.Done():
		j.mu.RUnlock()
		return ctx.Err()
	}
	j.mu.RUnlock()
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		// A probe that does not finish in time says as much as one that
		// failed; the committer's answer goes to the buffer.
		return ctx.Err()
	}
}

// Close commits the appends already queued, ends every follower, waits for
// the journal's goroutines to exit and closes the file. Later calls fail
// with ErrClosed, except Close, which returns the first Close's result.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		j.closed = true
		close(j.reqs)
		j.mu.Unlock()
		<-j.committed
		// The committer is done: the applier stores what it logged.
		close(j.applier.stop)
		<-j.applier.exited
		j.feed.Close()
		j.closeErr = errors.Join(j.wal.close(), j.db.Close())
	})
	return j.closeErr
}

package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state/tree"
)

// DefaultNamespace is the database of a request that names none.
const DefaultNamespace = "default"

// SystemNamespace is the database where Herald keeps its own state (token
// revocations); only the admin token reaches it over HTTP.
const SystemNamespace = "_herald"

// Config configures a [Store]. Journal is required; the zero value of the
// rest works.
type Config struct {
	// Journal records the writes; it must implement [journal.Queuer].
	Journal journal.Journal
	// Limits bound the values written (see [tree.Limits]).
	Limits tree.Limits
	// MaxNamespaces bounds the databases a store holds; 0 means 1000.
	MaxNamespaces int
	// Now is the clock of server timestamps; nil means time.Now.
	Now func() time.Time
	// Logger receives what a store following a shared journal cannot
	// apply; nil means slog.Default().
	Logger *slog.Logger
}

// Loaded is the tree a store starts from: what a durable view kept, as
// of journal position Seq. The zero value is an empty tree at position 0.
type Loaded struct {
	Roots map[string]*tree.Node
	Seq   uint64
}

// Snapshot is the tree as of one journal position: every write up to Seq
// and none after. It is immutable.
type Snapshot struct {
	Seq uint64
	// all holds every namespace's tree as a child keyed by its name (names
	// are valid keys), so that advancing one costs a path copy, not a copy
	// of every namespace.
	all *tree.Node
}

// Tree is every namespace's tree, each a child keyed by its name.
func (sn *Snapshot) Tree() *tree.Node { return sn.all }

// Root is the tree of namespace ns (nil when empty).
func (sn *Snapshot) Root(ns string) *tree.Node { return sn.all.Child(ns) }

// Get is the value at p in namespace ns (nil when absent).
func (sn *Snapshot) Get(ns string, p tree.Path) *tree.Node { return sn.all.Child(ns).Get(p) }

// Kind is what a write does.
type Kind int

const (
	// Put replaces the value at the path (nil deletes it).
	Put Kind = iota
	// Patch updates the named children of the path (a multi-path update).
	Patch
	// Push adds a child under a new, chronologically sortable key.
	Push
)

// Write is one change to the tree.
type Write struct {
	NS   string
	Kind Kind
	Path tree.Path
	// Value is the value of a Put or a Push (nil: delete).
	Value *tree.Node
	// Changes are a Patch's, relative to Path.
	Changes []tree.Change
	// IfMatch, when not empty, is the ETag the value at Path must have
	// for the write to happen.
	IfMatch string
}

// Result is what a write did.
type Result struct {
	// Path is where the value was written: the new child of a Push.
	Path tree.Path
	// Value is what was written at Path, server values resolved; for a
	// Patch, the changes as an object.
	Value *tree.Node
	// Changes are a Patch's, server values resolved.
	Changes []tree.Change
	// Seq is the write's journal position; ID its event ID.
	Seq uint64
	ID  string
}

// ConditionError is the answer to a write whose IfMatch did not match:
// the current value and its ETag.
type ConditionError struct {
	Value *tree.Node
	ETag  string
}

func (e *ConditionError) Error() string { return "state: the value's ETag does not match" }

var (
	// ErrTooManyNamespaces refuses a write that would create a database
	// beyond Config.MaxNamespaces.
	ErrTooManyNamespaces = errors.New("state: too many databases")
	// ErrClosed reports a write to a closed store.
	ErrClosed = errors.New("state: closed")
)

// ValidNamespace reports whether ns can name a database: 1 to 63 letters,
// digits, '-' or '_' (Firebase's database names, and the emulator's).
func ValidNamespace(ns string) bool { return nsPattern.MatchString(ns) }

var nsPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// Store is the state tree: its writes, in journal order, and the
// snapshots that reads and streams take. It is safe for concurrent use.
type Store struct {
	j     journal.Journal
	queue journal.Queuer
	lim   tree.Limits
	maxNS int
	now   func() time.Time

	// mu serializes writers: each computes its write on pending, the tree
	// with every write accepted so far, and queues it to the journal.
	mu      sync.Mutex
	pending *tree.Node // namespaces as in Snapshot.all
	pushIDs pushIDs
	closed  bool
	// gen is the context of queued appends; a failed append cancels it,
	// so that the writes queued after it, computed on a tree that held
	// it, are dropped by the journal rather than stored (see complete).
	gen       context.Context
	cancelGen context.CancelFunc

	// writes carries queued writes to the completer, in journal order.
	writes chan *pendingWrite
	// inflight counts queued writes not yet completed; idle is signalled
	// when it falls to zero while broken.
	inflight atomic.Int64
	idleMu   sync.Mutex
	idle     *sync.Cond
	// broken is set by the completer when an append failed: pending holds
	// a write the journal does not, and is rebuilt from the committed
	// tree once nothing is in flight.
	broken atomic.Bool

	committed atomic.Pointer[Snapshot]
	done      chan struct{}

	// keyed is the journal when other nodes append to it too; the store
	// then follows it (see shared.go), and the fields below are its.
	keyed      journal.Keyed
	log        *slog.Logger
	stopFollow context.CancelFunc
	// sharedWrites counts the writes in progress, which Close waits for.
	sharedWrites sync.WaitGroup
	amu          sync.Mutex
	applied      uint64        // the newest position followed
	advanced     chan struct{} // closed when applied moves, if waited for
	stopped      bool          // the follower ended
	onApply      atomic.Pointer[func(ns string, op *tree.Op)]
}

// pendingWrite is a write queued to the journal.
type pendingWrite struct {
	ns   string
	op   *tree.Op
	root *tree.Node // the namespace's tree with the write
	ev   *journal.Event
	wait func() error
	err  error
	// applied is closed once the committed tree holds the write (or err
	// says why not).
	applied chan struct{}
}

// writeQueue bounds the writes queued and not yet completed; writers wait
// beyond it.
const writeQueue = 4096

// Open returns a store on cfg.Journal starting from the tree loaded. Call
// Close to stop it.
func Open(cfg Config, loaded Loaded) (*Store, error) {
	q, ok := cfg.Journal.(journal.Queuer)
	if !ok {
		return nil, fmt.Errorf("state: the journal (%T) cannot queue appends", cfg.Journal)
	}
	s := &Store{
		j: cfg.Journal, queue: q, lim: cfg.Limits,
		maxNS:  cfg.MaxNamespaces,
		now:    cfg.Now,
		writes: make(chan *pendingWrite, writeQueue),
		done:   make(chan struct{}),
	}
	if s.maxNS <= 0 {
		s.maxNS = 1000
	}
	if s.lim.MaxBytes <= 0 {
		s.lim.MaxBytes = tree.DefaultLimits.MaxBytes
	}
	if s.lim.MaxDepth <= 0 {
		s.lim.MaxDepth = tree.DefaultLimits.MaxDepth
	}
	if s.now == nil {
		s.now = time.Now
	}
	for ns, root := range loaded.Roots {
		s.pending = s.pending.Set(tree.Path{ns}, root)
	}
	s.idle = sync.NewCond(&s.idleMu)
	s.gen, s.cancelGen = context.WithCancel(context.Background())
	s.committed.Store(&Snapshot{Seq: loaded.Seq, all: s.pending})
	if keyed, ok := cfg.Journal.(journal.Keyed); ok {
		if err := s.openShared(keyed, loaded.Seq, cmp.Or(cfg.Logger, slog.Default())); err != nil {
			return nil, err
		}
		return s, nil
	}
	go s.complete()
	return s, nil
}

// Snapshot is the tree as of the newest completed write.
func (s *Store) Snapshot() *Snapshot { return s.committed.Load() }

// Limits are the store's bounds on values.
func (s *Store) Limits() tree.Limits { return s.lim }

// Write applies w: it is computed on every write accepted before it,
// recorded in the journal, and visible to reads when Write returns nil.
// A failed condition gives a [*ConditionError]; the write is then not
// made. ctx bounds only the wait for room in the journal's queue: once
// queued, a write completes whatever ctx does.
func (s *Store) Write(ctx context.Context, w Write) (Result, error) {
	if s.keyed != nil {
		return s.writeShared(ctx, w)
	}
	pw, res, err := s.accept(ctx, w)
	if err != nil {
		return Result{}, err
	}
	<-pw.applied
	if pw.err != nil {
		return Result{}, pw.err
	}
	res.Seq, res.ID = pw.ev.Seq, pw.ev.ID
	return res, nil
}

// accept computes w on the pending tree and queues it, under the lock.
func (s *Store) accept(ctx context.Context, w Write) (*pendingWrite, Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, Result{}, ErrClosed
	}
	if s.broken.Load() {
		s.resync()
	}
	op, res, ev, err := s.prepare(w, s.pending)
	if err != nil {
		return nil, Result{}, err
	}
	pw := &pendingWrite{
		ns: w.NS, op: op, root: s.pending.Child(w.NS).Apply(op), ev: ev,
		applied: make(chan struct{}),
	}
	if err := ctx.Err(); err != nil {
		return nil, Result{}, err
	}
	wait, err := s.queue.Queue(s.gen, pw.ev)
	if err != nil {
		return nil, Result{}, err
	}
	pw.wait = wait
	s.pending = s.pending.Set(tree.Path{w.NS}, pw.root)
	s.inflight.Add(1)
	s.writes <- pw
	return pw, res, nil
}

// prepare computes w on all, every namespace's tree (as in
// Snapshot.all): the operation, the answer and the event that record it.
// s.mu must be held (for the push IDs).
func (s *Store) prepare(w Write, all *tree.Node) (*tree.Op, Result, *journal.Event, error) {
	root := all.Child(w.NS)
	if root == nil && all.Len() >= s.maxNS {
		return nil, Result{}, nil, ErrTooManyNamespaces
	}
	if w.IfMatch != "" {
		if cur := root.Get(w.Path); cur.ETag() != w.IfMatch {
			return nil, Result{}, nil, &ConditionError{Value: cur, ETag: cur.ETag()}
		}
	}
	op, res, err := s.resolve(w, root)
	if err != nil {
		return nil, Result{}, nil, err
	}
	ev := &journal.Event{Topics: eventTopics(w.NS, op.Path), Type: op.Kind, Data: op.AppendData(nil), Private: true}
	return op, res, ev, nil
}

// resolve turns w into the operation the journal records: a push gets
// its key, server values their values.
func (s *Store) resolve(w Write, root *tree.Node) (*tree.Op, Result, error) {
	now := s.now()
	switch w.Kind {
	case Put, Push:
		p := w.Path
		if w.Kind == Push {
			p = p.Child(s.pushIDs.next(now))
		}
		v := w.Value
		if v.HasServerValues() {
			var err error
			if v, err = tree.Resolve(v, p, root, now); err != nil {
				return nil, Result{}, err
			}
		}
		return &tree.Op{Kind: "put", Path: p, Value: v}, Result{Path: p, Value: v}, nil
	case Patch:
		changes := make([]tree.Change, len(w.Changes))
		for i, c := range w.Changes {
			v := c.Value
			if v.HasServerValues() {
				at := append(append(tree.Path(nil), w.Path...), c.Rel...)
				var err error
				if v, err = tree.Resolve(v, at, root, now); err != nil {
					return nil, Result{}, err
				}
			}
			changes[i] = tree.Change{Rel: c.Rel, Value: v}
		}
		return &tree.Op{Kind: "patch", Path: w.Path, Changes: changes}, Result{Path: w.Path, Changes: changes}, nil
	}
	return nil, Result{}, fmt.Errorf("state: unknown write kind %d", w.Kind)
}

// resync rebuilds the pending tree from the committed one after a failed
// append, once the writes queued after it have completed. s.mu is held,
// so no write is accepted meanwhile.
func (s *Store) resync() {
	s.idleMu.Lock()
	for s.inflight.Load() > 0 {
		s.idle.Wait()
	}
	s.idleMu.Unlock()
	s.pending = s.committed.Load().all
	s.gen, s.cancelGen = context.WithCancel(context.Background())
	s.broken.Store(false)
}

// complete waits for each queued write's commit, in journal order, and
// advances the committed tree. It is the only writer of s.committed.
//
// After a failed append, the writes queued behind it were computed on a
// tree that held it. Canceling the queue's context makes the journal drop
// those it has not yet written; any it had already stored are applied to
// the committed tree for what they are (the journal, and a durable view of
// it, apply them the same way), and the pending tree is rebuilt (resync).
func (s *Store) complete() {
	defer close(s.done)
	for pw := range s.writes {
		pw.err = pw.wait()
		snap := s.committed.Load()
		if pw.err == nil {
			root := pw.root
			if s.broken.Load() {
				root = snap.Root(pw.ns).Apply(pw.op)
			}
			s.committed.Store(&Snapshot{Seq: pw.ev.Seq, all: snap.all.Set(tree.Path{pw.ns}, root)})
		} else if !s.broken.Swap(true) {
			s.cancelGen()
		}
		close(pw.applied)
		if s.inflight.Add(-1) == 0 {
			s.idleMu.Lock()
			s.idle.Broadcast()
			s.idleMu.Unlock()
		}
	}
}

// Close stops the store once the writes queued have completed. It does
// not close the journal.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.writes)
	}
	s.mu.Unlock()
	if s.stopFollow != nil {
		// The writes stored are answered before the follower stops.
		s.waitWrites()
		s.stopFollow()
	}
	<-s.done
	return nil
}

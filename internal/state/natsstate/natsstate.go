// Package natsstate keeps snapshots of the state tree of Herald nodes on
// NATS JetStream, in a JetStream object store beside the journal's stream,
// so that a node starts from the newest snapshot and follows the journal
// from its position, rather than reading every event retained, and so
// that the tree outlives the stream's retention.
//
// A snapshot is one object, named by the journal position it holds
// (every write up to it and none after): the tree of every namespace as
// one JSON object, namespaces as its keys. Any node may save one; each
// saves while its tree has moved past the newest one saved, by it or
// another node, every interval, and once more when it stops. The newest
// two of the journal's epoch are kept: an object being written is not
// listed until it is whole, and the one before it stays meanwhile.
package natsstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// Config configures [Open].
type Config struct {
	// Conn is the NATS connection; Journal the journal whose tree is
	// kept (its epoch names the snapshots that belong to it).
	Conn    *nats.Conn
	Journal journal.Journal
	// Bucket is the object store's name: the journal's stream name and
	// "_STATE" is a good one.
	Bucket string
	// Replicas is how many servers keep each snapshot; 0 means 1.
	Replicas int
	Logger   *slog.Logger
}

// Snapshots is the object store of a journal's tree snapshots.
type Snapshots struct {
	obs   jetstream.ObjectStore
	j     journal.Journal
	epoch string
	log   *slog.Logger
	// saved is the position of the newest snapshot known to be saved.
	saved uint64
}

// keep is how many snapshots of the journal's epoch are kept.
const keep = 2

// Open opens the object store of cfg, creating it if it is missing.
func Open(ctx context.Context, cfg Config) (*Snapshots, error) {
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	log := cmp.Or(cfg.Logger, slog.Default())
	var obs jetstream.ObjectStore
	err = retry(ctx, log, func(ctx context.Context) (err error) {
		obs, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Bucket,
			Description: "Herald state tree snapshots",
			Replicas:    max(cfg.Replicas, 1),
			Storage:     jetstream.FileStorage,
			Compression: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("natsstate: object store %s: %w", cfg.Bucket, err)
	}
	return &Snapshots{obs: obs, j: cfg.Journal, epoch: cfg.Journal.Epoch(), log: log}, nil
}

// attemptTimeout bounds one attempt of a request that retry makes again.
const attemptTimeout = 2 * time.Second

// retry calls fn until it succeeds, fails otherwise than by getting no
// answer in attemptTimeout, or ctx ends: a JetStream cluster starting, or
// electing a stream's leader, leaves requests unanswered for a while.
func retry(ctx context.Context, log *slog.Logger, fn func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(actx)
		unanswered := actx.Err() != nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
		cancel()
		if err == nil || !unanswered || ctx.Err() != nil {
			return err
		}
		log.Warn("state tree snapshots: JetStream does not answer yet; trying again", "err", err)
	}
}

// object is a snapshot's entry in the store.
type object struct {
	name string
	seq  uint64
}

// objectName is the name of the snapshot at seq: its zero-padded
// position, so that names sort as positions do.
func objectName(seq uint64) string { return fmt.Sprintf("tree-%020d", seq) }

// list returns the snapshots of the journal's epoch, newest first, and
// the names of the others (another epoch's, or not snapshots).
func (s *Snapshots) list(ctx context.Context) (mine []object, others []string, err error) {
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, info := range infos {
		seq, perr := strconv.ParseUint(strings.TrimPrefix(info.Name, "tree-"), 10, 64)
		if info.Deleted {
			continue
		}
		if perr != nil || info.Metadata["epoch"] != s.epoch || info.Name != objectName(seq) {
			others = append(others, info.Name)
			continue
		}
		mine = append(mine, object{name: info.Name, seq: seq})
	}
	slices.SortFunc(mine, func(a, b object) int { return cmp.Compare(b.seq, a.seq) })
	return mine, others, nil
}

// Load returns the tree of the newest snapshot, or an empty tree at
// position 0 when there is none. It logs an error when the journal no
// longer holds every event after the snapshot: retention removed writes
// that the tree then lacks.
func (s *Snapshots) Load(ctx context.Context) (state.Loaded, error) {
	var mine []object
	err := retry(ctx, s.log, func(ctx context.Context) (err error) {
		mine, _, err = s.list(ctx)
		return err
	})
	if err != nil {
		return state.Loaded{}, fmt.Errorf("natsstate: listing the snapshots: %w", err)
	}
	loaded := state.Loaded{}
	for len(mine) > 0 {
		newest := mine[0]
		data, err := s.obs.GetBytes(ctx, newest.name)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			// Removed by a node that saved a newer one since the list:
			// the next is older, and the journal has what follows it.
			mine = mine[1:]
			continue
		}
		if err != nil {
			return state.Loaded{}, fmt.Errorf("natsstate: reading snapshot %s: %w", newest.name, err)
		}
		all, err := tree.Parse(data, tree.Limits{MaxBytes: len(data) + 1, MaxDepth: 1 << 10})
		if err != nil {
			return state.Loaded{}, fmt.Errorf("natsstate: snapshot %s: %w", newest.name, err)
		}
		loaded = state.Loaded{Roots: map[string]*tree.Node{}, Seq: newest.seq}
		all.Range(func(ns string, root *tree.Node) bool {
			loaded.Roots[ns] = root
			return true
		})
		s.saved = newest.seq
		break
	}
	if err := s.checkRetained(ctx, loaded.Seq); err != nil {
		return state.Loaded{}, err
	}
	return loaded, nil
}

// errStop ends a read at its first event.
var errStop = errors.New("stop")

// checkRetained logs an error when the journal's first event after seq
// is not seq+1: positions have no holes, so the ones between were
// removed, and with them, perhaps, writes to the tree.
func (s *Snapshots) checkRetained(ctx context.Context, seq uint64) error {
	var first uint64
	err := s.j.Read(ctx, seq, func(ev *journal.Event) error {
		first = ev.Seq
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("natsstate: reading the journal after %d: %w", seq, err)
	}
	if first > seq+1 {
		s.log.Error("the journal no longer holds every event after the state tree's newest snapshot: the tree lacks any write among them",
			"snapshot", seq, "first_retained", first)
	}
	return nil
}

// Save saves snap unless a snapshot at or after its position is saved,
// and removes all but the newest snapshots.
func (s *Snapshots) Save(ctx context.Context, snap *state.Snapshot) error {
	mine, others, err := s.list(ctx)
	if err != nil {
		return fmt.Errorf("natsstate: listing the snapshots: %w", err)
	}
	if len(mine) > 0 {
		s.saved = max(s.saved, mine[0].seq)
	}
	if snap.Seq > s.saved {
		r, w := io.Pipe()
		go func() { w.CloseWithError(snap.Tree().WriteJSON(w, tree.Format{})) }()
		_, err := s.obs.Put(ctx, jetstream.ObjectMeta{
			Name:     objectName(snap.Seq),
			Metadata: map[string]string{"epoch": s.epoch, "seq": strconv.FormatUint(snap.Seq, 10)},
		}, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("natsstate: saving the snapshot at %d: %w", snap.Seq, err)
		}
		s.saved = snap.Seq
		mine = append([]object{{name: objectName(snap.Seq), seq: snap.Seq}}, mine...)
	}
	stale := others
	if len(mine) > keep {
		for _, o := range mine[keep:] {
			stale = append(stale, o.name)
		}
	}
	for _, name := range stale {
		if err := s.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("natsstate: removing snapshot %s: %w", name, err)
		}
	}
	return nil
}

// saveTimeout bounds one save; finalSaveTimeout the one when the node
// stops, which holds up its shutdown.
const (
	saveTimeout      = time.Minute
	finalSaveTimeout = 5 * time.Second
)

// Keep saves the store's tree every interval while it has moved past the
// newest snapshot, until ctx ends; then once more, and returns.
func (s *Snapshots) Keep(ctx context.Context, store *state.Store, interval time.Duration) {
	save := func(timeout time.Duration) {
		snap := store.Snapshot()
		if snap.Seq <= s.saved {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := s.Save(sctx, snap); err != nil {
			s.log.Warn("state tree snapshot not saved", "seq", snap.Seq, "err", err)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			save(saveTimeout)
		case <-ctx.Done():
			save(finalSaveTimeout)
			return
		}
	}
}

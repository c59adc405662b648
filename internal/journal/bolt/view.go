package bolt

import (
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
)

// View is data kept beside the events in the journal's file, in a bucket
// of its own, and updated in the same transaction as every append: a
// crash leaves it exactly as of the last durable event, whatever the
// journal's retention later removes. The state tree is one.
type View interface {
	// Name is the view's bucket. It must not be one of the journal's own
	// ("meta", "events", "ids").
	Name() []byte
	// Apply updates the view for ev (its Seq, ID and Time set), inside
	// the transaction that appends it; b is the view's bucket. It must
	// skip the events it does not keep, and fail only when it cannot
	// write: an error fails the whole commit, and no event of it is
	// stored.
	Apply(b *bbolt.Bucket, ev *journal.Event) error
}

// createViews makes the buckets of the views the file does not have yet.
// A view added to an existing journal starts empty: it sees the events
// appended from then on.
func (j *Journal) createViews(tx *bbolt.Tx) error {
	for _, v := range j.opts.Views {
		switch string(v.Name()) {
		case string(bucketMeta), string(bucketEvents), string(bucketIDs):
			return fmt.Errorf("journal/bolt: view name %q is the journal's own", v.Name())
		}
		if _, err := tx.CreateBucketIfNotExists(v.Name()); err != nil {
			return fmt.Errorf("journal/bolt: %s: view %s: %w", j.path, v.Name(), err)
		}
	}
	return nil
}

// ReadView calls fn with view v's bucket and the last position the file
// holds, read in one transaction, so that the view is exactly as of that
// position. Right after Open, that is the journal's last position; later
// it may trail [Journal.Last] by the events still on their way from the
// write-ahead log to the file, which Read and Follow deliver. The bucket
// is valid only during the call.
func (j *Journal) ReadView(v View, fn func(b *bbolt.Bucket, last uint64) error) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	return j.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(v.Name())
		if b == nil {
			return fmt.Errorf("journal/bolt: %s: no view %s (not given to Open)", j.path, v.Name())
		}
		var last uint64
		if lb := tx.Bucket(bucketMeta).Get(metaLast); len(lb) == 8 {
			last = binary.BigEndian.Uint64(lb)
		}
		return fn(b, last)
	})
}

// applyViews updates the journal's views for the logged event e, stored
// in the transaction tx.
func (a *applier) applyViews(tx *bbolt.Tx, e *recentEvent) error {
	j := a.j
	if len(j.opts.Views) == 0 {
		return nil
	}
	decoded, err := e.event(j.epoch)
	if err != nil {
		// Readers skip it too; it changes no view.
		j.log.Error("journal: not applying an undecodable event to the views", "path", j.path, "seq", e.seq, "err", err)
		return nil
	}
	// The decoded event is shared with readers: the views get a copy.
	ev := *decoded
	for _, v := range j.opts.Views {
		if err := v.Apply(tx.Bucket(v.Name()), &ev); err != nil {
			return fmt.Errorf("view %s: %w", v.Name(), err)
		}
	}
	return nil
}

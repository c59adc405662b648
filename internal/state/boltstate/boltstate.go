// Package boltstate keeps Herald's state tree in the bolt journal's file:
// a [bolt.View] updated in the commit of every write, so that the tree
// survives restarts exactly as of the last durable event, however little
// of the journal its retention keeps.
//
// The tree is stored flat, one record per leaf: the key is the namespace,
// a NUL byte and the leaf's path ("/a/b"; "" for a leaf at the root),
// the value the leaf's JSON. Keys cannot hold NUL or '/', so a subtree is
// the leaf at its path and the keys that extend it by "/", one range of
// the bucket.
package boltstate

import (
	"bytes"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// View is the state tree as a view of a bolt journal. Give it to
// bolt.Open (Options.Views), then [Load] the tree from the journal.
type View struct {
	// Limits are those the store writes with.
	Limits tree.Limits
}

var _ bolt.View = View{}

// Name is the view's bucket.
func (View) Name() []byte { return []byte("state") }

// Apply writes a state event's change to the bucket; other events are not
// the view's.
func (v View) Apply(b *bbolt.Bucket, ev *journal.Event) error {
	if !state.IsEvent(ev) {
		return nil
	}
	ns, op, err := state.DecodeEvent(ev, v.Limits)
	if err != nil {
		// The store encoded it; a journal that holds something else
		// under the state's topics was not written by Herald.
		return fmt.Errorf("state event %s: %w", ev.ID, err)
	}
	switch op.Kind {
	case "put":
		return put(b, ns, op.Path, op.Value)
	default:
		for _, c := range op.Changes {
			if err := put(b, ns, append(append(tree.Path(nil), op.Path...), c.Rel...), c.Value); err != nil {
				return err
			}
		}
		return nil
	}
}

// key is the record key of the leaf at p.
func key(ns string, p tree.Path) []byte {
	k := make([]byte, 0, len(ns)+1+16*len(p))
	k = append(k, ns...)
	k = append(k, 0)
	for _, seg := range p {
		k = append(k, '/')
		k = append(k, seg...)
	}
	return k
}

// put replaces the subtree at p by v (nil deletes it): the leaves of the
// old subtree and any leaf on the way to p go, v's leaves come.
func put(b *bbolt.Bucket, ns string, p tree.Path, v *tree.Node) error {
	at := key(ns, p)
	if err := deleteRange(b, at); err != nil {
		return err
	}
	for i := range len(p) {
		if err := b.Delete(key(ns, p[:i])); err != nil {
			return err
		}
	}
	return v.Walk(func(rel tree.Path, leaf *tree.Node) error {
		k := at
		if len(rel) > 0 {
			k = key(ns, append(append(tree.Path(nil), p...), rel...))
		}
		return b.Put(k, leaf.AppendJSON(nil, tree.Format{}))
	})
}

// deleteRange deletes the leaf at key at and every leaf below it. At the
// root (at ends with NUL), that is every key of the namespace.
func deleteRange(b *bbolt.Bucket, at []byte) error {
	below := append(bytes.Clone(at), '/')
	root := at[len(at)-1] == 0
	c := b.Cursor()
	for k, _ := c.Seek(at); k != nil; {
		inside := bytes.Equal(k, at) || bytes.HasPrefix(k, below) || root && bytes.HasPrefix(k, at)
		if !inside {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
		// After a Delete the cursor stands on the next key, except at a
		// page's end; Seek finds it either way.
		k, _ = c.Seek(at)
	}
	return nil
}

// Load reads the tree kept in j's file, as of j's last position. j must
// have been opened with a View.
func Load(j *bolt.Journal, v View) (state.Loaded, error) {
	loaded := state.Loaded{Roots: make(map[string]*tree.Node)}
	err := j.ReadView(v, func(b *bbolt.Bucket, last uint64) error {
		loaded.Seq = last
		return b.ForEach(func(k, val []byte) error {
			ns, path, ok := strings.Cut(string(k), "\x00")
			if !ok {
				return fmt.Errorf("boltstate: malformed key %q", k)
			}
			leaf, err := tree.Parse(val, v.Limits)
			if err != nil {
				return fmt.Errorf("boltstate: leaf %s%s: %w", ns, path, err)
			}
			var p tree.Path
			if path != "" {
				p = strings.Split(path[1:], "/")
			}
			loaded.Roots[ns] = loaded.Roots[ns].Set(p, leaf)
			return nil
		})
	})
	return loaded, err
}

package tree

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/google/btree"
)

// kind is what a non-nil Node holds.
type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindBool
	kindObject
	kindServer // {".sv": payload}, to be replaced by Resolve before it is stored
)

// Node is a value in the tree: a leaf (string, number or bool) or an object
// with at least one child. A nil *Node is null, the value of an absent
// location; every method works on a nil receiver.
//
// Nodes are immutable once built, so any number of goroutines may read one
// while a writer derives new roots from it ([Node.Set], [Node.Update]):
// a write copies the path from the root to the written location and shares
// every other node with the old tree. An object keeps its children in a
// copy-on-write B-tree, so a write below an object of n children copies
// O(log n) of it, not the object.
//
// Arrays are stored as objects keyed "0", "1", ... as Firebase stores them,
// and rendered back as arrays when Firebase would ([Node.AppendJSON]).
type Node struct {
	kind  kind
	b     bool
	depth uint32  // levels of objects below this node; 0 for a leaf
	str   string  // kindString
	num   float64 // kindNumber
	kids  *btree.BTreeG[entry]
	sv    *Node // kindServer: the payload of ".sv"
	count int   // nodes in the subtree: objects, leaves and server values
	nsv   int   // server values in the subtree
	etag  atomic.Pointer[string]
}

// entry is one child of an object.
type entry struct {
	key  string
	node *Node
}

func lessEntry(a, b entry) bool { return CompareKeys(a.key, b.key) < 0 }

// degree is the B-tree's minimum degree: nodes of up to 31 children, so a
// write below an object of 10,000 children copies three tree nodes.
const degree = 16

// freeList is shared by every object's B-tree. The B-tree only returns to
// it nodes owned by the tree being written, which no reader has seen, since
// every write starts from a Clone.
var freeList = btree.NewFreeListG[entry](btree.DefaultFreeListSize)

// cloneMu serializes Clone: btree's Clone gives the original tree a new
// copy-on-write context, a write to a tree that readers share. Readers never
// look at that field, but two writers deriving new roots from the same old
// one at once would race on it.
var cloneMu sync.Mutex

func cloneKids(t *btree.BTreeG[entry]) *btree.BTreeG[entry] {
	cloneMu.Lock()
	defer cloneMu.Unlock()
	return t.Clone()
}

// String returns a string leaf.
func String(s string) *Node { return &Node{kind: kindString, str: s, count: 1} }

// Number returns a number leaf. Negative zero becomes zero, as in JSON
// written by JavaScript. Number panics on NaN and infinities, which JSON
// cannot hold.
func Number(f float64) *Node {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("tree: Number of NaN or Inf")
	}
	if f == 0 {
		f = 0 // drops the sign of -0
	}
	return &Node{kind: kindNumber, num: f, count: 1}
}

// Float returns the value of a number leaf; ok is false for anything
// else (nil included).
func (n *Node) Float() (f float64, ok bool) {
	if n == nil || n.kind != kindNumber {
		return 0, false
	}
	return n.num, true
}

// Bool returns a boolean leaf.
func Bool(b bool) *Node { return &Node{kind: kindBool, b: b, count: 1} }

// serverValue returns the node of {".sv": payload}.
func serverValue(payload *Node) *Node {
	return &Node{kind: kindServer, sv: payload, count: 1, nsv: 1}
}

// newObject returns the object of kids, nil when kids is empty.
func newObject(kids *btree.BTreeG[entry]) *Node {
	if kids.Len() == 0 {
		return nil
	}
	n := &Node{kind: kindObject, kids: kids, count: 1}
	kids.Ascend(func(e entry) bool {
		n.add(e.node)
		return true
	})
	return n
}

// add counts child c into n's totals.
func (n *Node) add(c *Node) {
	n.count += c.count
	n.nsv += c.nsv
	n.depth = max(n.depth, c.depth+1)
}

// IsLeaf reports whether n is a string, number or boolean (or a server value
// not yet resolved): not null, not an object.
func (n *Node) IsLeaf() bool { return n != nil && n.kind != kindObject }

// Len returns the number of children of an object; 0 for a leaf or nil.
func (n *Node) Len() int {
	if n == nil || n.kind != kindObject {
		return 0
	}
	return n.kids.Len()
}

// Count returns the number of nodes in the subtree of n, objects and leaves,
// n included; 0 for nil. It takes constant time.
func (n *Node) Count() int {
	if n == nil {
		return 0
	}
	return n.count
}

// Depth returns the levels of objects at and below n: 0 for a leaf or nil,
// 1 for an object of leaves. A write at p of v reaches len(p)+v.Depth()
// levels, which Firebase keeps to 32.
func (n *Node) Depth() int {
	if n == nil {
		return 0
	}
	return int(n.depth)
}

// Child returns the child of n named key, nil if there is none or n is not
// an object.
func (n *Node) Child(key string) *Node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	e, _ := n.kids.Get(entry{key: key})
	return e.node
}

// Get returns the node at p below n, nil if there is none.
func (n *Node) Get(p Path) *Node {
	for _, k := range p {
		if n = n.Child(k); n == nil {
			return nil
		}
	}
	return n
}

// Set returns the root of a tree that is n with v at p. A nil v deletes p
// and the ancestors that deleting it leaves empty; writing below a leaf
// replaces the leaf with an object. n is unchanged, and the new tree shares
// every node off the path to p with it.
func (n *Node) Set(p Path, v *Node) *Node {
	// The ancestors of p from the root, then each rebuilt bottom-up: a loop,
	// not recursion, since p comes from a request.
	anc := make([]*Node, len(p))
	cur := n
	for i, k := range p {
		anc[i] = cur
		cur = cur.Child(k)
	}
	if cur == v {
		return n
	}
	for i := len(p) - 1; i >= 0; i-- {
		v = anc[i].withChild(p[i], v)
	}
	return v
}

// withChild returns n with its child key replaced by c (deleted if c is nil).
func (n *Node) withChild(key string, c *Node) *Node {
	if n == nil || n.kind != kindObject {
		if c == nil {
			return n // nothing to delete below a leaf or null
		}
		kids := btree.NewWithFreeListG(degree, lessEntry, freeList)
		kids.ReplaceOrInsert(entry{key, c})
		return newObject(kids)
	}
	old := n.Child(key)
	if old == c {
		return n
	}
	kids := cloneKids(n.kids)
	if c == nil {
		kids.Delete(entry{key: key})
		if kids.Len() == 0 {
			return nil
		}
	} else {
		kids.ReplaceOrInsert(entry{key, c})
	}
	out := &Node{kind: kindObject, kids: kids,
		count: n.count - old.Count() + c.Count(),
		nsv:   n.nsv - old.serverValues() + c.serverValues(),
	}
	if c.Depth()+1 >= n.Depth() {
		out.depth = uint32(c.Depth() + 1)
	} else if old.Depth()+1 < n.Depth() {
		out.depth = n.depth // the deepest child is another one, untouched
	} else {
		// The deepest child may be the one replaced: look at them all. Only
		// a write that makes an object shallower pays this.
		kids.Ascend(func(e entry) bool {
			out.depth = max(out.depth, e.node.depth+1)
			return true
		})
	}
	return out
}

func (n *Node) serverValues() int {
	if n == nil {
		return 0
	}
	return n.nsv
}

// Change is one location of a multi-path update: Value (nil deletes) to be
// written at Rel, relative to the update's location.
type Change struct {
	Rel   Path
	Value *Node
}

// Update returns the root of a tree that is n with a Firebase PATCH at p
// applied: each change's Value written at p joined with its Rel, nil values
// deleting, all in one new root. The changes' locations are expected not to
// hold one another, as [ParseUpdate] ensures; if they do, later changes win.
// n is unchanged.
func (n *Node) Update(p Path, changes []Change) *Node {
	for _, c := range changes {
		n = n.Set(p.join(c.Rel), c.Value)
	}
	return n
}

// Range calls fn for each child of n in Firebase key order ([CompareKeys])
// until fn returns false. A leaf or nil has no children.
func (n *Node) Range(fn func(key string, child *Node) bool) {
	if n == nil || n.kind != kindObject {
		return
	}
	n.kids.Ascend(func(e entry) bool { return fn(e.key, e.node) })
}

// Walk calls fn for every leaf below n with its path relative to n, depth
// first in key order; a leaf n is visited with the empty path. It stops at
// the first error fn returns and returns it. Each call gets a path of its
// own, which fn may keep.
func (n *Node) Walk(fn func(p Path, leaf *Node) error) error {
	return n.walk(nil, fn)
}

func (n *Node) walk(p Path, fn func(Path, *Node) error) error {
	switch {
	case n == nil:
		return nil
	case n.kind != kindObject:
		return fn(append(Path(nil), p...), n)
	}
	var err error
	n.kids.Ascend(func(e entry) bool {
		err = e.node.walk(append(p, e.key), fn)
		return err == nil
	})
	return err
}

// Equal reports whether n and m hold the same value.
func (n *Node) Equal(m *Node) bool {
	switch {
	case n == m:
		return true
	case n == nil || m == nil || n.kind != m.kind || n.count != m.count:
		return false
	}
	switch n.kind {
	case kindString:
		return n.str == m.str
	case kindNumber:
		return n.num == m.num
	case kindBool:
		return n.b == m.b
	case kindServer:
		return n.sv.Equal(m.sv)
	}
	if n.kids.Len() != m.kids.Len() {
		return false
	}
	// Same number of children, and each of n's found equal in m: the same
	// keys, the same values.
	equal := true
	n.kids.Ascend(func(e entry) bool {
		o, ok := m.kids.Get(e)
		equal = ok && e.node.Equal(o.node)
		return equal
	})
	return equal
}

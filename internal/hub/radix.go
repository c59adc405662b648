package hub

import (
	"sort"
	"strings"
)

// radix is a compressed trie of strings: the literal prefixes of the
// selectors that are not plain topics. Each node holds the values whose
// key ends at it. Its size is proportional to the number of keys (edges
// carry whole substrings), whatever their length; a walk along a topic
// costs the topic's length and visits exactly the keys that prefix it.
// It is not safe for concurrent use.
type radix[V comparable] struct {
	root radixNode[V]
}

type radixNode[V comparable] struct {
	label    string // the edge from the parent: a non-empty part of the key
	children []*radixNode[V]
	values   []V
}

// child returns the index of n's child whose label starts with b, or -1.
func (n *radixNode[V]) child(b byte) int {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= b })
	if i < len(n.children) && n.children[i].label[0] == b {
		return i
	}
	return -1
}

// insert adds v under key.
func (t *radix[V]) insert(key string, v V) {
	n := &t.root
	for key != "" {
		i := n.child(key[0])
		if i < 0 {
			leaf := &radixNode[V]{label: key, values: []V{v}}
			j := sort.Search(len(n.children), func(j int) bool { return n.children[j].label[0] > key[0] })
			n.children = append(n.children, nil)
			copy(n.children[j+1:], n.children[j:])
			n.children[j] = leaf
			return
		}
		c := n.children[i]
		common := commonPrefix(c.label, key)
		if common < len(c.label) {
			// Split the edge: a node for the common part, holding c
			// below it with the rest of its label.
			mid := &radixNode[V]{label: c.label[:common], children: []*radixNode[V]{c}}
			c.label = c.label[common:]
			n.children[i] = mid
			c = mid
		}
		n, key = c, key[common:]
	}
	n.values = append(n.values, v)
}

// remove takes v out from under key, pruning the nodes left empty and
// merging a node left with one child into it, so that the tree never
// holds more than it needs for its keys.
func (t *radix[V]) remove(key string, v V) {
	var path []*radixNode[V]
	n := &t.root
	for key != "" {
		i := n.child(key[0])
		if i < 0 || !strings.HasPrefix(key, n.children[i].label) {
			return
		}
		path = append(path, n)
		n, key = n.children[i], key[len(n.children[i].label):]
	}
	for i, x := range n.values {
		if x == v {
			last := len(n.values) - 1
			n.values[i] = n.values[last]
			var zero V
			n.values[last] = zero
			n.values = n.values[:last]
			break
		}
	}
	// Prune upwards: an empty leaf goes; a node without values and with
	// one child takes that child's place.
	for d := len(path) - 1; d >= 0; d-- {
		parent := path[d]
		i := parent.child(n.label[0])
		switch {
		case len(n.values) == 0 && len(n.children) == 0:
			parent.children = append(parent.children[:i], parent.children[i+1:]...)
		case len(n.values) == 0 && len(n.children) == 1:
			only := n.children[0]
			only.label = n.label + only.label
			parent.children[i] = only
			return
		default:
			return
		}
		n = parent
	}
}

// walk calls fn with the values of every key that is a prefix of s,
// shortest first.
func (t *radix[V]) walk(s string, fn func(V)) {
	n := &t.root
	for {
		for _, v := range n.values {
			fn(v)
		}
		if s == "" {
			return
		}
		i := n.child(s[0])
		if i < 0 || !strings.HasPrefix(s, n.children[i].label) {
			return
		}
		n, s = n.children[i], s[len(n.children[i].label):]
	}
}

// nodes counts the tree's nodes, root included.
func (t *radix[V]) nodes() int {
	var count func(*radixNode[V]) int
	count = func(n *radixNode[V]) int {
		c := 1
		for _, ch := range n.children {
			c += count(ch)
		}
		return c
	}
	return count(&t.root)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

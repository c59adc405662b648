package tree

import (
	"math"
	"time"
)

// HasServerValues reports whether n holds a server value ({".sv": ...})
// that [Resolve] must replace before n is stored. It takes constant time.
func (n *Node) HasServerValues() bool { return n != nil && n.nsv > 0 }

// Resolve returns v with every server value replaced by what it stands for,
// v being about to be written at the location at of the tree root:
//
//   - {".sv": "timestamp"} becomes now, in milliseconds since the Unix epoch;
//   - {".sv": {"increment": x}} becomes the number at that location in root
//     plus x, or x when the location holds no number (Firebase's rule).
//
// Any other server value is an error (an [*Error]), as is an increment
// beyond float64. A v without server values is returned as is, at no cost.
func Resolve(v *Node, at Path, root *Node, now time.Time) (*Node, error) {
	if !v.HasServerValues() {
		return v, nil
	}
	// Capped, so that appending below never writes into the caller's array.
	return resolve(v, at[:len(at):len(at)], root, now)
}

func resolve(v *Node, at Path, root *Node, now time.Time) (*Node, error) {
	if v.kind == kindServer {
		return resolveOne(v, at, root, now)
	}
	// Only the children holding server values are visited and replaced, so
	// a large value with one timestamp in it costs a path, not a copy.
	var resolved []entry
	var err error
	v.kids.Ascend(func(e entry) bool {
		if e.node.nsv == 0 {
			return true
		}
		var r *Node
		r, err = resolve(e.node, append(at, e.key), root, now)
		resolved = append(resolved, entry{e.key, r})
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range resolved {
		v = v.withChild(e.key, e.node)
	}
	return v, nil
}

func resolveOne(v *Node, at Path, root *Node, now time.Time) (*Node, error) {
	payload := v.sv
	if payload.IsLeaf() && payload.kind == kindString && payload.str == "timestamp" {
		return Number(float64(now.UnixMilli())), nil
	}
	if payload.Len() == 1 {
		if x := payload.Child("increment"); x.IsLeaf() && x.kind == kindNumber {
			sum := x.num
			if cur := root.Get(at); cur.IsLeaf() && cur.kind == kindNumber {
				sum += cur.num
			}
			if math.IsInf(sum, 0) {
				return nil, errorf("Invalid data; increment at " + quoteKey(at.String()) + " is out of range")
			}
			return Number(sum), nil
		}
	}
	return nil, errorf("Invalid data; unsupported server value " + quoteKey(string(v.AppendJSON(nil, Format{}))))
}

package tree

import (
	"encoding/json"
	"time"
)

// The kinds of [Op], as the REST stream names its events.
const (
	KindPut   = "put"
	KindPatch = "patch"
)

// Op is a write as the journal records it and as streams see it.
type Op struct {
	Kind  string // KindPut or KindPatch
	Path  Path   // where the write happened, from the root
	Value *Node  // put: the new value; nil deletes
	// Changes are a patch's, relative to Path, at locations that do not
	// hold one another (as from ParseUpdate).
	Changes []Change
}

// Apply returns the root of n with op applied: [Node.Set] for a put,
// [Node.Update] for a patch. It panics on any other Kind, which no Op from
// this package has.
func (n *Node) Apply(op *Op) *Node {
	switch op.Kind {
	case KindPut:
		return n.Set(op.Path, op.Value)
	case KindPatch:
		return n.Update(op.Path, op.Changes)
	}
	panic("tree: Apply of an Op of kind " + op.Kind)
}

// Resolve returns op with the server values of its value or changes
// replaced ([Resolve]), root being the tree it is about to be applied to;
// op itself if it has none.
func (op *Op) Resolve(root *Node, now time.Time) (*Op, error) {
	out := *op
	changed := false
	switch op.Kind {
	case KindPut:
		if op.Value.HasServerValues() {
			v, err := Resolve(op.Value, op.Path, root, now)
			if err != nil {
				return nil, err
			}
			out.Value, changed = v, true
		}
	case KindPatch:
		for i, c := range op.Changes {
			if !c.Value.HasServerValues() {
				continue
			}
			v, err := Resolve(c.Value, op.Path.join(c.Rel), root, now)
			if err != nil {
				return nil, err
			}
			if !changed {
				out.Changes = append([]Change(nil), op.Changes...)
				changed = true
			}
			out.Changes[i].Value = v
		}
	}
	if !changed {
		return op, nil
	}
	return &out, nil
}

// AppendData appends the data of op's stream event, with its absolute path,
// to dst: {"path":"/a/b","data":value} for a put, and for a patch the
// changes as an object keyed by their relative paths,
// {"path":"/a","data":{"b/c":1,"d":null}}. [DecodeOp] reads it back.
func (op *Op) AppendData(dst []byte) []byte {
	if op.Kind == KindPatch {
		return appendPatchEvent(dst, op.Path, op.Changes)
	}
	return appendPutEvent(dst, op.Path, op.Value)
}

func appendPutEvent(dst []byte, p Path, v *Node) []byte {
	dst = append(dst, `{"path":`...)
	dst = appendString(dst, p.String())
	dst = append(dst, `,"data":`...)
	dst = v.AppendJSON(dst, Format{})
	return append(dst, '}')
}

func appendPatchEvent(dst []byte, p Path, changes []Change) []byte {
	dst = append(dst, `{"path":`...)
	dst = appendString(dst, p.String())
	dst = append(dst, `,"data":{`...)
	for i, c := range changes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c.Rel.String()[1:])
		dst = append(dst, ':')
		dst = c.Value.AppendJSON(dst, Format{})
	}
	return append(dst, "}}"...)
}

// DecodeOp reads the data of a stream event of the given kind, as
// [Op.AppendData] writes it, back into an Op. The value or changes are read
// with lim, as [Parse] and [ParseUpdate] read them.
func DecodeOp(kind string, data []byte, lim Limits) (*Op, error) {
	var env struct {
		Path *string         `json:"path"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Path == nil || env.Data == nil {
		return nil, errorf(`Invalid event data; want {"path": ..., "data": ...}`)
	}
	p, err := parseRelPath(*env.Path)
	if err != nil {
		return nil, err
	}
	op := &Op{Kind: kind, Path: p}
	switch kind {
	case KindPut:
		op.Value, err = Parse(env.Data, lim)
	case KindPatch:
		op.Changes, err = ParseUpdate(env.Data, lim)
	default:
		return nil, errorf("Invalid event kind " + quoteKey(kind))
	}
	if err != nil {
		return nil, err
	}
	return op, nil
}

// Project returns the event that a REST stream watching the location watch
// receives for op, with its path relative to watch, or ok false when op does
// not touch watch's subtree:
//
//   - a put at watch or above it: put "/" with the new value at watch (null
//     when absent);
//   - a put below watch: put at the put's path relative to watch;
//   - a patch at watch or below it: patch at its path relative to watch,
//     with its changes as given;
//   - a patch above watch: if a change's location is watch or above it, put
//     "/" with the value that change leaves at watch (the changes are
//     disjoint, so no other change can touch watch); else a patch at "/" of
//     the changes below watch, re-rooted at it, the others dropped; with
//     none below, ok is false.
//
// A patch without changes changes nothing: ok is false. Applying the event
// to watch's subtree before op gives watch's subtree after it, which is
// what a client that follows the stream relies on.
func (op *Op) Project(watch Path) (kind string, data []byte, ok bool) {
	switch op.Kind {
	case KindPut:
		switch {
		case watch.HasPrefix(op.Path):
			return KindPut, appendPutEvent(nil, nil, op.Value.Get(watch[len(op.Path):])), true
		case op.Path.HasPrefix(watch):
			return KindPut, appendPutEvent(nil, op.Path[len(watch):], op.Value), true
		}
	case KindPatch:
		if len(op.Changes) == 0 {
			return "", nil, false
		}
		switch {
		case op.Path.HasPrefix(watch):
			return KindPatch, appendPatchEvent(nil, op.Path[len(watch):], op.Changes), true
		case watch.HasPrefix(op.Path):
			rest := watch[len(op.Path):]
			var below []Change
			for _, c := range op.Changes {
				switch {
				case rest.HasPrefix(c.Rel):
					return KindPut, appendPutEvent(nil, nil, c.Value.Get(rest[len(c.Rel):])), true
				case c.Rel.HasPrefix(rest):
					below = append(below, Change{Rel: c.Rel[len(rest):], Value: c.Value})
				}
			}
			if len(below) > 0 {
				return KindPatch, appendPatchEvent(nil, nil, below), true
			}
		}
	}
	return "", nil, false
}

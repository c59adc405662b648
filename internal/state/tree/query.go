package tree

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/btree"
)

// Query selects children of a location as the REST API's query parameters
// do: an order (orderBy), a range in it (startAt, startAfter, endAt,
// endBefore, equalTo) and a count from either end (limitToFirst,
// limitToLast). Build one with [ParseQuery]; apply it with [Node.Query].
type Query struct {
	order      order
	child      Path // orderByChild
	start, end bound
	limit      int  // -1: none
	fromLast   bool // the limit counts from the end
}

type order uint8

const (
	byKey order = iota + 1
	byValue
	byChild
)

// bound is one end of the range: a value (a key for byKey), inclusive or not.
type bound struct {
	set       bool
	exclusive bool
	value     *Node // nil is null
}

var queryParams = []string{"orderBy", "limitToFirst", "limitToLast", "startAt", "startAfter", "endAt", "endBefore", "equalTo"}

// ParseQuery reads a request's query parameters; ok is false when it has
// none of the ones above (a plain read).
//
// Values are JSON, as in the REST API: orderBy is "$key", "$value" or a
// child path ("height", "a/b"), quoted; "$priority" is refused, since
// Herald has no priorities. startAt, startAfter, endAt, endBefore and
// equalTo are JSON strings, numbers, booleans or null, and strings when
// ordering by key. Limits are non-negative integers. A query without
// orderBy, with both limits, with equalTo and another bound, or with both an
// inclusive and an exclusive bound at one end is refused. Errors are
// [*Error]s, worded as Firebase's.
func ParseQuery(v url.Values) (q Query, ok bool, err error) {
	for _, name := range queryParams {
		ok = ok || v.Has(name)
	}
	if !ok {
		return Query{}, false, nil
	}
	if !v.Has("orderBy") {
		return Query{}, true, errorf("orderBy must be defined when other query parameters are defined")
	}
	q = Query{limit: -1}
	if err := q.parseOrder(v.Get("orderBy")); err != nil {
		return Query{}, true, err
	}
	bounds := []struct {
		name      string
		dst       *bound
		exclusive bool
	}{
		{"startAt", &q.start, false},
		{"startAfter", &q.start, true},
		{"endAt", &q.end, false},
		{"endBefore", &q.end, true},
	}
	for _, b := range bounds {
		if !v.Has(b.name) {
			continue
		}
		if b.dst.set {
			return Query{}, true, errorf(b.name + " cannot be defined with " + otherOf(b.name))
		}
		val, err := q.parseBound(b.name, v.Get(b.name))
		if err != nil {
			return Query{}, true, err
		}
		*b.dst = bound{set: true, exclusive: b.exclusive, value: val}
	}
	if v.Has("equalTo") {
		if q.start.set || q.end.set {
			return Query{}, true, errorf("equalTo cannot be defined with startAt, startAfter, endAt or endBefore")
		}
		val, err := q.parseBound("equalTo", v.Get("equalTo"))
		if err != nil {
			return Query{}, true, err
		}
		q.start = bound{set: true, value: val}
		q.end = q.start
	}
	if v.Has("limitToFirst") && v.Has("limitToLast") {
		return Query{}, true, errorf("limitToFirst and limitToLast cannot both be defined")
	}
	for _, name := range []string{"limitToFirst", "limitToLast"} {
		if !v.Has(name) {
			continue
		}
		s := v.Get(name)
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || strings.TrimLeft(s, "0123456789") != "" {
			return Query{}, true, errorf(name + " must be a non-negative integer")
		}
		q.limit, q.fromLast = n, name == "limitToLast"
	}
	return q, true, nil
}

func otherOf(name string) string {
	switch name {
	case "startAfter":
		return "startAt"
	case "endBefore":
		return "endAt"
	}
	return name
}

func (q *Query) parseOrder(raw string) error {
	errPath := errorf("orderBy must be a valid JSON encoded path")
	v, err := Parse([]byte(raw), Limits{})
	if err != nil || !v.IsLeaf() || v.kind != kindString {
		return errPath
	}
	switch s := v.str; {
	case s == "$key":
		q.order = byKey
	case s == "$value":
		q.order = byValue
	case s == "$priority":
		return errorf(`orderBy "$priority" is not supported: Herald has no priorities`)
	default:
		p, err := parseRelPath(s)
		if err != nil || len(p) == 0 {
			return errPath
		}
		q.order, q.child = byChild, p
	}
	return nil
}

func (q *Query) parseBound(name, raw string) (*Node, error) {
	kinds := "a string, number, boolean or null"
	if q.order == byKey {
		kinds = `a string when orderBy is "$key"`
	}
	bad := errorf(name + " must be a JSON value: " + kinds)
	trimmed := strings.TrimLeft(raw, " \t\r\n")
	if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		return nil, bad // an empty object parses as null, so look first
	}
	v, err := Parse([]byte(raw), Limits{})
	if err != nil || v.HasServerValues() {
		return nil, bad
	}
	if q.order == byKey && (v == nil || v.kind != kindString) {
		return nil, bad
	}
	return v, nil
}

// Query returns the children of n that q selects, as an object (the REST API
// answers with an object and leaves sorting to the client); nil when none
// is selected or n is a leaf or nil.
//
// Children are ordered by key ([CompareKeys]) or by the value of themselves
// or of a child path, in Firebase's order of types: null (or missing),
// false, true, numbers ascending, strings by bytes, then objects; equal
// values by key. The range keeps those between its bounds, compared in the
// same order (keys with keys when ordering by key); the limit then keeps the
// first or last so many of them. The zero Query selects n as it is.
func (n *Node) Query(q Query) *Node {
	switch {
	case q.order == 0:
		return n
	case n == nil || n.kind != kindObject:
		return nil
	}
	var picked []entry
	if q.order == byKey {
		picked = n.queryKeys(q)
	} else {
		picked = n.queryValues(q)
	}
	if len(picked) == n.kids.Len() {
		return n
	}
	kids := btree.NewWithFreeListG(degree, lessEntry, freeList)
	for _, e := range picked {
		kids.ReplaceOrInsert(e)
	}
	return newObject(kids)
}

// queryKeys walks only the range and the limit, from the end the limit
// counts from: a page of a large object costs the page.
func (n *Node) queryKeys(q Query) []entry {
	var picked []entry
	keep := func(e entry) bool {
		if q.limit >= 0 && len(picked) >= q.limit {
			return false
		}
		inStart, inEnd := q.start.admitsKey(e.key, true), q.end.admitsKey(e.key, false)
		switch {
		case inStart && inEnd:
			picked = append(picked, e)
			return true
		case q.fromLast:
			// Walking down: below the start ends the walk; the end's own
			// key, excluded by endBefore, is skipped.
			return inStart
		default:
			return inEnd
		}
	}
	if q.fromLast {
		if q.end.set {
			n.kids.DescendLessOrEqual(entry{key: q.end.value.str}, keep)
		} else {
			n.kids.Descend(keep)
		}
		slices.Reverse(picked)
		return picked
	}
	if q.start.set {
		n.kids.AscendGreaterOrEqual(entry{key: q.start.value.str}, keep)
	} else {
		n.kids.Ascend(keep)
	}
	return picked
}

func (b bound) admitsKey(key string, isStart bool) bool {
	if !b.set {
		return true
	}
	c := CompareKeys(key, b.value.str)
	if !isStart {
		c = -c
	}
	return c > 0 || (c == 0 && !b.exclusive)
}

func (n *Node) queryValues(q Query) []entry {
	type item struct {
		entry
		by *Node
	}
	var items []item
	n.kids.Ascend(func(e entry) bool {
		by := e.node
		if q.order == byChild {
			by = by.Get(q.child)
		}
		if q.start.admits(by, true) && q.end.admits(by, false) {
			items = append(items, item{e, by})
		}
		return true
	})
	// Children come in key order, so a stable sort breaks ties by key.
	slices.SortStableFunc(items, func(a, b item) int { return compareValues(a.by, b.by) })
	if q.limit >= 0 && q.limit < len(items) {
		if q.fromLast {
			items = items[len(items)-q.limit:]
		} else {
			items = items[:q.limit]
		}
	}
	picked := make([]entry, len(items))
	for i, it := range items {
		picked[i] = it.entry
	}
	return picked
}

func (b bound) admits(v *Node, isStart bool) bool {
	if !b.set {
		return true
	}
	c := compareValues(v, b.value)
	if !isStart {
		c = -c
	}
	return c > 0 || (c == 0 && !b.exclusive)
}

// typeRank is a value's place in Firebase's order of types.
func typeRank(n *Node) int {
	switch {
	case n == nil:
		return 0
	case n.kind == kindBool && !n.b:
		return 1
	case n.kind == kindBool:
		return 2
	case n.kind == kindNumber:
		return 3
	case n.kind == kindString:
		return 4
	}
	return 5 // objects, all equal to one another
}

func compareValues(a, b *Node) int {
	ra, rb := typeRank(a), typeRank(b)
	switch {
	case ra != rb:
		return cmpInt(int64(ra), int64(rb))
	case ra == 3 && a.num != b.num:
		if a.num < b.num {
			return -1
		}
		return 1
	case ra == 4:
		return strings.Compare(a.str, b.str)
	}
	return 0
}

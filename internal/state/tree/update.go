package tree

import (
	"slices"
	"strings"
)

var errNotObject = errorf("Invalid data; a PATCH body must be a JSON object whose keys are paths")

// ParseUpdate reads the body of a Firebase PATCH: a JSON object whose keys
// are paths relative to the request's location ("a", "a/b/c") and whose
// values are written there, null deleting. Each key's segments must be valid
// keys, and its depth counts toward lim.MaxDepth along with its value's.
// Values are read as [Parse] reads them, server values included.
//
// A key that is an ancestor of another, or names the same location, is
// refused, since the order of such writes would matter; so is a body that
// is not an object. An empty object is valid: no changes. The changes come
// sorted by location ([CompareKeys], key by key), whatever the body's order.
func ParseUpdate(data []byte, lim Limits) ([]Change, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, errTooLarge
	}
	p := parser{data: data, lim: lim}
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '{' {
		return nil, errNotObject
	}
	p.pos++
	p.ws()
	var changes []Change
	if p.pos < len(data) && data[p.pos] == '}' {
		p.pos++
		return nil, p.end()
	}
	for {
		p.ws()
		if p.pos >= len(data) || data[p.pos] != '"' {
			return nil, errSyntax
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(data) || data[p.pos] != ':' {
			return nil, errSyntax
		}
		p.pos++
		rel, err := updateKey(k, lim)
		if err != nil {
			return nil, err
		}
		v, err := p.value(len(rel))
		if err != nil {
			return nil, err
		}
		changes = append(changes, Change{Rel: rel, Value: v})
		p.ws()
		if p.pos >= len(data) {
			return nil, errSyntax
		}
		c := data[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, errSyntax
		}
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return changes, checkDisjoint(changes)
}

// updateKey reads a PATCH body's key as a relative path.
func updateKey(k string, lim Limits) (Path, error) {
	rel, err := parseRelPath(k)
	if err != nil {
		for seg := range strings.SplitSeq(k, "/") {
			if seg == ".priority" || seg == ".value" {
				return nil, errPriority(seg)
			}
		}
		return nil, err
	}
	switch {
	case len(rel) == 0:
		return nil, errorf("Invalid data; a PATCH key must name a path below the location, not " + quoteKey(k))
	case len(rel) > lim.MaxDepth:
		return nil, errTooDeep(lim)
	}
	return rel, nil
}

// checkDisjoint sorts changes by location and refuses a location that is
// another's ancestor or equal to it. Sorted, a path's descendants follow it
// directly, so neighbours are all there is to compare.
func checkDisjoint(changes []Change) error {
	slices.SortFunc(changes, func(a, b Change) int { return a.Rel.compare(b.Rel) })
	for i := 1; i < len(changes); i++ {
		prev, cur := changes[i-1].Rel, changes[i].Rel
		switch {
		case prev.Equal(cur):
			return errorf("Invalid data; Path " + quoteKey(cur.String()) + " appears twice")
		case cur.HasPrefix(prev):
			return errorf("Invalid data; Path " + quoteKey(prev.String()) + " is an ancestor of " + quoteKey(cur.String()))
		}
	}
	return nil
}

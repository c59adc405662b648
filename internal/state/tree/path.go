package tree

import (
	"net/url"
	"strconv"
	"strings"
)

// MaxPathDepth is the deepest location [ParsePath] accepts: Firebase keeps
// every path in the tree under 32 levels, so nothing lives deeper.
const MaxPathDepth = 32

// Path is a validated location in the tree: its keys from the root. The
// root is the empty Path. A Path from [ParsePath] holds only valid keys
// ([ValidKey]); methods never modify the receiver.
type Path []string

// ParsePath reads the location of a request: the URL path below the API
// prefix, still percent-encoded (r.URL.EscapedPath() with the prefix and the
// ".json" suffix removed), such as "/users/al%20ice/x".
//
// Segments are split on "/" before they are decoded, so that "%2F" cannot
// smuggle a separator into a key; empty segments (leading, trailing or
// doubled slashes) are ignored. ParsePath refuses "." and ".." segments,
// invalid percent-encoding, segments that decode to something holding "/",
// invalid keys and paths deeper than [MaxPathDepth]. Errors are [*Error]s.
func ParsePath(escaped string) (Path, error) {
	var p Path
	for seg := range strings.SplitSeq(escaped, "/") {
		if seg == "" {
			continue
		}
		key, err := url.PathUnescape(seg)
		if err != nil {
			return nil, errorf("Invalid path: invalid percent-encoding in " + strconv.Quote(seg))
		}
		if err := checkSegment(key); err != nil {
			return nil, err
		}
		p = append(p, key)
	}
	if len(p) > MaxPathDepth {
		return nil, tooDeepPath(p)
	}
	return p, nil
}

// parseRelPath reads an unescaped relative path, as the keys of a PATCH
// body and orderBy name them ("a/b/c"); empty segments are ignored.
func parseRelPath(s string) (Path, error) {
	var p Path
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" {
			continue
		}
		if err := checkSegment(seg); err != nil {
			return nil, err
		}
		p = append(p, seg)
	}
	return p, nil
}

func checkSegment(key string) error {
	switch {
	case key == "." || key == "..":
		return errorf(`Invalid path: "." and ".." segments are not allowed`)
	case strings.Contains(key, "/"):
		return errorf("Invalid path: segment " + quoteKey(key) + ` holds an encoded "/"`)
	}
	if err := ValidKey(key); err != nil {
		return errorf("Invalid path: " + err.Error())
	}
	return nil
}

func tooDeepPath(p Path) error {
	return errorf("Path " + quoteKey(p.String()) + " is too deep: the limit is " + strconv.Itoa(MaxPathDepth) + " levels")
}

// String returns the path as the Firebase REST API prints it: "/" and the
// keys joined by "/", unescaped ("/users/alice"); the root is "/".
func (p Path) String() string {
	if len(p) == 0 {
		return "/"
	}
	return "/" + strings.Join(p, "/")
}

// Child returns the path of key below p, in a new slice: appending to the
// result never changes p, nor the other way round.
func (p Path) Child(key string) Path {
	c := make(Path, len(p)+1)
	copy(c, p)
	c[len(p)] = key
	return c
}

// Parent returns the path above p; the root is its own parent. The result
// shares p's array and is capped at its length, so appending to it copies.
func (p Path) Parent() Path {
	if len(p) == 0 {
		return p
	}
	return p[: len(p)-1 : len(p)-1]
}

// HasPrefix reports whether q is p or an ancestor of p.
func (p Path) HasPrefix(q Path) bool {
	return len(q) <= len(p) && p[:len(q)].Equal(q)
}

// Equal reports whether p and q name the same location.
func (p Path) Equal(q Path) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// join returns p followed by rel, in a new slice.
func (p Path) join(rel Path) Path {
	out := make(Path, 0, len(p)+len(rel))
	return append(append(out, p...), rel...)
}

// compare orders paths key by key ([CompareKeys]), an ancestor before its
// descendants; every descendant of a path sorts right after it, before
// any path that is not one.
func (p Path) compare(q Path) int {
	for i := 0; i < len(p) && i < len(q); i++ {
		if c := CompareKeys(p[i], q[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(p) < len(q):
		return -1
	case len(p) > len(q):
		return 1
	}
	return 0
}

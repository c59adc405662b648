package rules

import (
	"fmt"
	"strings"
)

// Grants are the path patterns of a token's "db" claim: the parts of the
// tree a token may read, or write. The zero value grants nothing.
type Grants struct {
	patterns []pattern
}

// pattern is one parsed grant: its keys from the root down. An empty
// pattern is the whole tree.
type pattern []patternKey

// patternKey is one key of a pattern: a literal key, or a variable, which
// matches any key. The variable's name only documents the pattern.
type patternKey struct {
	key      string
	variable bool
}

// ParseGrants parses grant patterns. A pattern is "*" or "/" for the whole
// tree, or a path such as "/devices/{id}/status": keys separated by "/",
// each a literal key or a variable "{name}" that stands for any one key.
// A grant on a path covers that path and everything below it. A literal
// key is not empty and holds none of what Firebase refuses in a key:
// ".", "$", "#", "[", "]", "/" and control characters.
//
// Variables are wildcards, not bindings: "/users/{uid}" covers every user,
// whoever holds the token. Access that depends on who asks is what a rules
// file ([Parse]) is for.
//
// An invalid pattern is an error that names it and wraps [ErrInvalidGrant].
func ParseGrants(patterns []string) (Grants, error) {
	if len(patterns) == 0 {
		return Grants{}, nil
	}
	g := Grants{patterns: make([]pattern, 0, len(patterns))}
	for _, s := range patterns {
		p, err := parsePattern(s)
		if err != nil {
			return Grants{}, fmt.Errorf("%w %q: %s", ErrInvalidGrant, s, err)
		}
		g.patterns = append(g.patterns, p)
	}
	return g, nil
}

func parsePattern(s string) (pattern, error) {
	switch {
	case s == "*" || s == "/":
		return pattern{}, nil
	case s == "":
		return nil, fmt.Errorf("empty pattern")
	case s[0] != '/':
		return nil, fmt.Errorf("a pattern starts with /")
	}
	keys := strings.Split(s[1:], "/")
	p := make(pattern, 0, len(keys))
	for _, k := range keys {
		switch {
		case k == "*":
			// "*" is a legal key, but someone writing /a/* surely meant any
			// key; refuse it rather than grant a key nobody uses.
			return nil, fmt.Errorf(`"*" stands alone; write {name} for any key`)
		case strings.HasPrefix(k, "{") && strings.HasSuffix(k, "}"):
			if name := k[1 : len(k)-1]; !isIdent(name) {
				return nil, fmt.Errorf("variable %q: a name is a letter or _ then letters, digits or _", k)
			}
			p = append(p, patternKey{key: k, variable: true})
		case strings.ContainsAny(k, "{}"):
			return nil, fmt.Errorf("key %q: a variable is a whole key, {name}", k)
		default:
			if err := checkKey(k); err != nil {
				return nil, err
			}
			p = append(p, patternKey{key: k})
		}
	}
	return p, nil
}

// Covers reports whether some pattern matches path or an ancestor of path.
func (g Grants) Covers(path []string) bool {
	for _, p := range g.patterns {
		if p.covers(path) {
			return true
		}
	}
	return false
}

func (p pattern) covers(path []string) bool {
	if len(p) > len(path) {
		return false
	}
	for i, k := range p {
		if !k.variable && k.key != path[i] {
			return false
		}
	}
	return true
}

// Empty reports whether g grants nothing.
func (g Grants) Empty() bool { return len(g.patterns) == 0 }

// checkKey refuses what Firebase refuses in a key (empty, ".", "$", "#",
// "[", "]", "/" and control characters), so that a typo in a grant or a
// rule is an error instead of a key that no request can name.
func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty key")
	}
	for _, c := range []byte(k) {
		if c < 0x20 || c == 0x7f || strings.IndexByte(".$#[]/", c) >= 0 {
			return fmt.Errorf("key %q: a key holds no control character nor any of . $ # [ ] /", k)
		}
	}
	return nil
}

// isIdent reports whether s is a letter or '_' followed by letters, digits
// or '_' (ASCII): a variable name in a grant or a rule.
func isIdent(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

package rules

import (
	"time"

	"cel.dev/cel-go/common/types"
)

// Ruleset is a parsed rules file. It is immutable and safe for concurrent
// use.
type Ruleset struct {
	root *node
}

// node holds the rules of one level of the tree: those of a literal key, or
// those of a $variable, which apply to every key of the level that has no
// literal node of its own.
type node struct {
	read, write *rule
	children    map[string]*node
	wild        *node
	wildName    string // the CEL name of wild's variable: _uid for $uid
}

// Auth is who a rule sees as auth. A nil *Auth is an unauthenticated
// caller, for whom auth is null.
type Auth struct {
	// UID is auth.uid: the token's "sub" claim.
	UID string
	// Token is auth.token: all the token's claims, as decoded from JSON.
	// Numbers are then float64, which compare with ints (level > 2), but
	// arithmetic mixing them with ints needs int() or double(), as in
	// int(auth.token.exp) * 1000 > now.
	Token map[string]any
}

// CanRead reports whether the rules allow a read of path: whether some .read
// rule on the way from the root down to path, path included, is true.
// now is the rules' now (Unix milliseconds). A nil Ruleset allows
// nothing.
//
// Rules are not filters: a read of /users is denied when only
// /users/alice is readable, since no rule at or above /users grants it.
func (r *Ruleset) CanRead(path []string, a *Auth, now time.Time) bool {
	return r.allows(path, a, now, (*node).readRule)
}

// CanWrite reports whether the rules allow a write at path: whether some
// .write rule on the way from the root down to path, path included, is
// true. .validate rules are not applied.
func (r *Ruleset) CanWrite(path []string, a *Auth, now time.Time) bool {
	return r.allows(path, a, now, (*node).writeRule)
}

func (n *node) readRule() *rule  { return n.read }
func (n *node) writeRule() *rule { return n.write }

// allows walks from the root down to path, as Firebase does: the first
// rule that is true grants access to its level and everything below, so a
// deeper rule can add access but never take it away; a level with no rule
// defers to the next. At each level a literal key wins over the level's
// $variable, which then binds the key for the rules below it.
func (r *Ruleset) allows(path []string, a *Auth, now time.Time, ruleOf func(*node) *rule) bool {
	if r == nil {
		return false
	}
	act := activation{auth: a, now: types.Int(now.UnixMilli())}
	act.vars = act.buf[:0]
	n := r.root
	for depth := 0; ; depth++ {
		if rl := ruleOf(n); rl != nil && rl.allows(&act) {
			return true
		}
		if depth == len(path) {
			return false
		}
		key := path[depth]
		if child, ok := n.children[key]; ok {
			n = child
			continue
		}
		if n.wild == nil {
			return false
		}
		act.vars = append(act.vars, binding{name: n.wildName, key: key})
		n = n.wild
	}
}

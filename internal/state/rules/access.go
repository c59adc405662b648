package rules

import (
	"sync/atomic"
	"time"
)

// Who is the caller of a request, as far as access to the tree goes.
// The zero value is an unauthenticated caller: no grants, auth null.
type Who struct {
	// Admin is the holder of the server's admin token, who may do anything.
	Admin bool
	// ReadGrants and WriteGrants are the token's "db" claim: its "read"
	// and its "write" patterns.
	ReadGrants, WriteGrants Grants
	// Auth is what rules see as auth; nil when unauthenticated.
	Auth *Auth
}

// Access decides who may read and write where: the server holds one and
// swaps its rules when it reloads them. It is safe for concurrent use.
//
// The admin may do anything. A grant in the token is always an allow, with
// or without rules: a token that names a path can reach it, so that a
// service's token keeps working whatever the rules file says. Beyond its
// grants, a caller may do what the rules allow, when there are rules;
// without rules, grants alone decide.
type Access struct {
	rules atomic.Pointer[Ruleset]
}

// NewAccess returns an Access that applies rs, or only the tokens' grants
// when rs is nil.
func NewAccess(rs *Ruleset) *Access {
	a := &Access{}
	a.rules.Store(rs)
	return a
}

// Set replaces the rules, nil for none. Decisions under way finish with
// the rules they started with.
func (a *Access) Set(rs *Ruleset) { a.rules.Store(rs) }

// Rules returns the rules in force, nil when there are none.
func (a *Access) Rules() *Ruleset { return a.rules.Load() }

// CanRead reports whether who may read path at now.
func (a *Access) CanRead(path []string, who Who, now time.Time) bool {
	return who.Admin || who.ReadGrants.Covers(path) || a.rules.Load().CanRead(path, who.Auth, now)
}

// CanWrite reports whether who may write at path at now.
func (a *Access) CanWrite(path []string, who Who, now time.Time) bool {
	return who.Admin || who.WriteGrants.Covers(path) || a.rules.Load().CanWrite(path, who.Auth, now)
}

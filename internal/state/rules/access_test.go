package rules

import (
	"sync"
	"testing"
)

func TestAccess(t *testing.T) {
	rs := mustParse(t, `{"rules": {
		"users": {"$uid": {".read": "auth != null && auth.uid == $uid", ".write": "auth != null && auth.uid == $uid"}},
		"public": {".read": true}
	}}`)
	grants := func(p ...string) Grants {
		g, err := ParseGrants(p)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	var (
		anon    = Who{}
		adminW  = Who{Admin: true}
		aliceW  = Who{Auth: alice}
		service = Who{ReadGrants: grants("/users"), WriteGrants: grants("/devices/{id}/status")}
		both    = Who{Auth: alice, ReadGrants: grants("/reports")}
	)
	tests := []struct {
		name      string
		rules     *Ruleset
		who       Who
		path      string
		read, wrt bool
	}{
		{"admin, with rules", rs, adminW, "/anything", true, true},
		{"admin, without rules", nil, adminW, "/", true, true},
		{"anonymous, rules allow", rs, anon, "/public/x", true, false},
		{"anonymous, rules deny", rs, anon, "/users/alice", false, false},
		{"anonymous, no rules", nil, anon, "/public/x", false, false},
		{"rules allow", rs, aliceW, "/users/alice/x", true, true},
		{"rules deny", rs, aliceW, "/users/bob", false, false},
		{"no rules: auth alone grants nothing", nil, aliceW, "/users/alice", false, false},
		{"no rules: read grant", nil, service, "/users/bob", true, false},
		{"no rules: write grant with a variable", nil, service, "/devices/d1/status", false, true},
		{"no rules: outside the grants", nil, service, "/public", false, false},
		{"grants count beside rules", rs, service, "/users/bob", true, false},
		{"grants add to what rules allow", rs, both, "/reports/q1", true, false},
		{"rules still apply beside grants", rs, both, "/users/alice", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAccess(tt.rules)
			if got := a.CanRead(keys(tt.path), tt.who, t0); got != tt.read {
				t.Errorf("CanRead(%s) = %v, want %v", tt.path, got, tt.read)
			}
			if got := a.CanWrite(keys(tt.path), tt.who, t0); got != tt.wrt {
				t.Errorf("CanWrite(%s) = %v, want %v", tt.path, got, tt.wrt)
			}
		})
	}
}

func TestAccessSet(t *testing.T) {
	a := NewAccess(nil)
	if a.Rules() != nil {
		t.Fatal("NewAccess(nil) has rules")
	}
	open := mustParse(t, `{"rules": {".read": true}}`)
	a.Set(open)
	if a.Rules() != open || !a.CanRead(nil, Who{}, t0) {
		t.Fatal("Set did not put the rules in force")
	}
	a.Set(nil)
	if a.Rules() != nil || a.CanRead(nil, Who{}, t0) {
		t.Fatal("Set(nil) left rules in force")
	}
}

// TestAccessSetConcurrent swaps rules while decisions are made, for the
// race detector.
func TestAccessSetConcurrent(t *testing.T) {
	open := mustParse(t, `{"rules": {"a": {".read": true, ".write": true}}}`)
	closed := mustParse(t, `{"rules": {"a": {".read": false}}}`)
	a := NewAccess(open)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				a.CanWrite(keys("/a"), Who{}, t0)
				a.CanRead(keys("/a/b"), Who{}, t0)
			}
		})
	}
	for i := range 500 {
		switch i % 3 {
		case 0:
			a.Set(open)
		case 1:
			a.Set(closed)
		default:
			a.Set(nil)
		}
	}
	wg.Wait()
}

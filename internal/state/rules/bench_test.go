package rules

import (
	"testing"
	"time"
)

// benchRules is three levels deep, the shape of a typical rules file: a
// closed root, a $variable for the user, and a public child below it.
const benchRules = `{
  "rules": {
    ".read": false,
    "users": {
      "$uid": {
        ".read": "auth != null && auth.uid == $uid",
        "profile": {".read": "auth != null && auth.token.admin == true"},
        "public": {".read": true}
      }
    }
  }
}`

// BenchmarkCanRead measures the decision made once per request: ns/op and
// allocs/op are the cost that every read of the REST API pays.
func BenchmarkCanRead(b *testing.B) {
	rs := mustParse(b, benchRules)
	alice := &Auth{UID: "alice", Token: map[string]any{"sub": "alice", "admin": false}}
	now := time.Now()
	for _, bc := range []struct {
		name string
		path []string
		auth *Auth
		want bool
	}{
		// The $uid rule is true: one expression evaluated.
		{"owner", []string{"users", "alice", "profile"}, alice, true},
		// Both expressions evaluated, both false (the claim is false).
		{"other", []string{"users", "bob", "profile"}, alice, false},
		// The $uid rule is false, then the literal true below it.
		{"public", []string{"users", "bob", "public"}, alice, true},
		// auth is null: the expressions stop at auth != null.
		{"anonymous", []string{"users", "bob", "profile"}, nil, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rs.CanRead(bc.path, bc.auth, now) != bc.want {
					b.Fatal("wrong decision")
				}
			}
		})
	}
}

// BenchmarkGrantsCovers measures a token's grants, which Access checks
// before any rule.
func BenchmarkGrantsCovers(b *testing.B) {
	g, err := ParseGrants([]string{"/reports", "/devices/{id}/status", "/users/alice"})
	if err != nil {
		b.Fatal(err)
	}
	path := []string{"users", "alice", "profile", "name"}
	b.ReportAllocs()
	for b.Loop() {
		if !g.Covers(path) {
			b.Fatal("not covered")
		}
	}
}

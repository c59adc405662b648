package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// testRules exercises the cascade, $variables and literal keys beside them,
// claims, and now.
const testRules = `{
  "rules": {
    "open": {".read": true, "closed": {".read": false}},
    "a": {"b": {".read": true}},
    "users": {
      "$uid": {
        ".read": "auth != null && auth.uid == $uid",
        ".write": "auth != null && auth.uid == $uid",
        "public": {".read": true},
        "posts": {"$post": {".write": "$post.startsWith($uid + '-')"}}
      },
      "admin": {".read": "auth != null && auth.token.admin == true"}
    },
    "widget": {"title": {".read": false}, "$other": {".read": true}},
    "time": {".read": "now >= 1000"},
    "anon": {".read": "auth == null"},
    "either": {".read": "auth.token.admin == true || auth.uid == 'root'"},
    "level": {".read": "auth.token.level > 2 && auth.token.level == 3"},
    "flag": {".read": "auth.token.flag"},
    "literal": {"$uid": {".read": "auth.uid == '$uid'"}},
    "js": {"$uid": {".read": "auth.uid === $uid", ".write": "auth.uid !== $uid"}},
    "exp": {".read": "int(auth.token.exp) * 1000 > now"},
    "dash": {".read": "auth.token['a-b'] == 'x' ? true : false"},
    "has": {".read": "has(auth.token.admin) // not $uid: a comment\n && auth.uid != ''"}
  }
}`

var (
	alice = &Auth{UID: "alice", Token: map[string]any{"sub": "alice", "level": 3.0, "flag": true, "exp": 2.0, "a-b": "x"}}
	bob   = &Auth{UID: "bob", Token: map[string]any{"sub": "bob", "level": 1.0, "flag": "yes", "exp": 0.5}}
	boss  = &Auth{UID: "boss", Token: map[string]any{"admin": true}}
	root  = &Auth{UID: "root"}
	// named is a user whose uid is the text "$uid", for the literal test.
	named = &Auth{UID: "$uid"}
	// admin's uid is a key that has a literal rule beside $uid.
	admin = &Auth{UID: "admin"}
)

var t0 = time.UnixMilli(1000)

func TestRulesetCanRead(t *testing.T) {
	rs := mustParse(t, testRules)
	tests := []struct {
		name string
		path string
		auth *Auth
		want bool
	}{
		{"the root is closed", "/", alice, false},
		{"no rule at all", "/nowhere", alice, false},
		{"granted", "/open", nil, true},
		{"granted below", "/open/x/y", nil, true},
		{"a rule below cannot revoke", "/open/closed", nil, true},
		{"a grant below does not open the level above", "/a", alice, false},
		{"granted at its level", "/a/b", alice, true},
		{"granted below its level", "/a/b/c", alice, true},
		{"$uid is the caller", "/users/alice", alice, true},
		{"$uid is the caller, below", "/users/alice/settings/theme", alice, true},
		{"$uid is someone else", "/users/bob", alice, false},
		{"unauthenticated", "/users/alice", nil, false},
		{"not a filter: the parent of readable keys", "/users", alice, false},
		{"a deeper rule grants what $uid does not", "/users/bob/public", nil, true},
		{"a literal key wins over $uid", "/users/admin", admin, false},
		{"the literal key's rule", "/users/admin", boss, true},
		{"a literal key: below it", "/users/admin/x", boss, true},
		{"$other is not title", "/widget/title", nil, false},
		{"$other is any other key", "/widget/color", nil, true},
		{"auth is null when unauthenticated", "/anon", nil, true},
		{"auth is not null when authenticated", "/anon", alice, false},
		{"a missing claim is false", "/users/admin", alice, false},
		{"a missing claim, unauthenticated", "/users/admin", nil, false},
		{"|| absorbs a missing claim", "/either", root, true},
		{"the other side of ||", "/either", boss, true},
		{"neither side of ||", "/either", alice, false},
		{"numeric claims compare with ints", "/level", alice, true},
		{"numeric claims, false", "/level", bob, false},
		{"a bool claim", "/flag", alice, true},
		{"a claim that is not a bool is false", "/flag", bob, false},
		{"a missing claim alone is false", "/flag", root, false},
		{"$uid in a string literal is text", "/literal/alice", named, true},
		{"$uid in a string literal is not the key", "/literal/alice", alice, false},
		{"=== is ==", "/js/alice", alice, true},
		{"=== is ==, false", "/js/alice", bob, false},
		{"arithmetic on a claim", "/exp", alice, true},
		{"arithmetic on a claim, false", "/exp", bob, false},
		{"indexing and ?:", "/dash", alice, true},
		{"indexing a missing claim", "/dash", bob, false},
		{"has() and a comment", "/has", boss, true},
		{"has() of a missing claim", "/has", alice, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.CanRead(keys(tt.path), tt.auth, t0); got != tt.want {
				t.Errorf("CanRead(%s, %v) = %v, want %v", tt.path, who(tt.auth), got, tt.want)
			}
		})
	}
}

func TestRulesetCanWrite(t *testing.T) {
	rs := mustParse(t, testRules)
	tests := []struct {
		name string
		path string
		auth *Auth
		want bool
	}{
		{"no .write anywhere", "/open", alice, false},
		{".read does not grant writes", "/open/x", nil, false},
		{"$uid is the caller", "/users/alice/x", alice, true},
		{"$uid is someone else", "/users/alice/x", bob, false},
		{"variables of two levels", "/users/alice/posts/alice-1", bob, true},
		{"variables of two levels, false", "/users/alice/posts/bob-1", bob, false},
		{"!== is !=", "/js/alice", bob, true},
		{"!== is !=, false", "/js/alice", alice, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.CanWrite(keys(tt.path), tt.auth, t0); got != tt.want {
				t.Errorf("CanWrite(%s, %v) = %v, want %v", tt.path, who(tt.auth), got, tt.want)
			}
		})
	}
}

func TestRulesetNow(t *testing.T) {
	rs := mustParse(t, testRules)
	for _, tt := range []struct {
		now  time.Time
		want bool
	}{
		{time.UnixMilli(999), false},
		{time.UnixMilli(1000), true},
		{time.UnixMilli(1001), true},
	} {
		if got := rs.CanRead(keys("/time"), nil, tt.now); got != tt.want {
			t.Errorf("now = %d ms: CanRead = %v, want %v", tt.now.UnixMilli(), got, tt.want)
		}
	}
}

// TestRulesetCostLimit shows a rule stopped by the cost limit: the same
// rule is true for a small token and false, quickly, for one that would make
// it run a million iterations.
func TestRulesetCostLimit(t *testing.T) {
	rs := mustParse(t, `{"rules": {".read": "auth.token.list.all(x, auth.token.list.all(y, x == x))"}}`)
	small := &Auth{Token: map[string]any{"list": make([]any, 10)}}
	if !rs.CanRead(nil, small, t0) {
		t.Fatal("the rule is false below the cost limit")
	}
	big := make([]any, 1000)
	for i := range big {
		big[i] = float64(i)
	}
	a := &Auth{Token: map[string]any{"list": big}}
	start := time.Now()
	if rs.CanRead(nil, a, t0) {
		t.Fatal("a rule over the cost limit granted access")
	}
	t.Logf("stopped after %v", time.Since(start))
	_, _, err := rs.root.read.prg.Eval(&activation{auth: a})
	if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Errorf("the rule was false for another reason: %v", err)
	}
}

func TestRulesetNil(t *testing.T) {
	var rs *Ruleset
	if rs.CanRead(nil, alice, t0) || rs.CanWrite(keys("/a"), alice, t0) {
		t.Error("a nil Ruleset allows something")
	}
}

// TestRulesetDeepPath binds more variables than the activation stores
// without allocating.
func TestRulesetDeepPath(t *testing.T) {
	rs := mustParse(t, `{"rules": {"$a": {"$b": {"$c": {"$d": {"$e": {"$f": {
		".read": "$a + $b + $c + $d + $e + $f == 'abcdef'"}}}}}}}}`)
	if !rs.CanRead(keys("/a/b/c/d/e/f/g"), nil, t0) {
		t.Error("the rule did not see its six variables")
	}
	if rs.CanRead(keys("/a/b/c/d/e/x"), nil, t0) {
		t.Error("the rule saw the wrong key")
	}
}

func TestRulesetConcurrent(t *testing.T) {
	rs := mustParse(t, testRules)
	done := make(chan bool)
	for i := range 8 {
		go func() {
			ok := true
			for j := range 200 {
				uid := fmt.Sprintf("u%d-%d", i, j)
				a := &Auth{UID: uid}
				ok = ok && rs.CanRead(keys("/users/"+uid), a, t0) && !rs.CanRead(keys("/users/other"), a, t0)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent decision was wrong")
		}
	}
}

func mustParse(t testing.TB, src string) *Ruleset {
	t.Helper()
	rs, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func who(a *Auth) string {
	if a == nil {
		return "unauthenticated"
	}
	return strings.TrimSpace("uid " + a.UID)
}

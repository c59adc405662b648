// Package rules decides who may read and write where in Herald's JSON state
// tree, the tree behind the Firebase Realtime Database–compatible REST API.
// Paths are given as keys from the root down ([]string{"users", "alice"}
// for /users/alice; the root is empty), already validated by the caller.
//
// # Grants
//
// A token may carry grants, path patterns under a "db" claim:
//
//	{"db": {"read": ["/public", "/devices/{id}/status"], "write": ["/users/alice"]}}
//
// [ParseGrants] parses them into [Grants]. A grant covers its path and
// everything below it; "{name}" stands for any one key; "*" (or "/") is
// the whole tree. Variables are wildcards: access that depends on who
// asks is for rules.
//
// # Rules
//
// [Parse] and [Load] read a rules file shaped like Firebase Realtime
// Database security rules, comments included:
//
//	{
//	  "rules": {
//	    ".read": false,
//	    "users": {
//	      "$uid": {
//	        // Each user reads and writes their own subtree.
//	        ".read": "auth != null && auth.uid == $uid",
//	        ".write": "auth != null && auth.uid == $uid"
//	      }
//	    },
//	    "public": {".read": true, ".write": "auth != null && auth.token.admin == true"}
//	  }
//	}
//
// The rules cascade as in Firebase: walking from the root down to a path,
// the first .read (or .write) rule that is true grants access to the path
// and all below it; a rule below cannot take that access away, and a path
// that no rule on the way grants is denied. Rules are not filters: reading
// /users is denied even if every /users/$uid is readable, since no rule at
// or above /users grants it. A "$name" key matches any key of its level
// that has no literal key of its own ("$other" beside "title" means any key
// but "title") and binds it to $name for the rules below.
//
// ".validate" and ".indexOn" are accepted and ignored: this package decides
// access, not what data is valid. Any other key starting with "." is an
// error.
//
// # Expressions
//
// A rule is true, false, or an expression in CEL, the Common Expression
// Language (cel.dev/cel-go), which is Firebase's expression syntax where
// the two agree: ==, !=, &&, ||, !, <, <=, >, >=, + - * / %, a ? b : c,
// member access (auth.token.email), indexing (auth.token['a-b']), 'single' and
// "double" quoted strings, and methods such as startsWith, endsWith,
// contains, matches (an RE2 pattern as a string) and size. Two Firebase
// forms are rewritten: $name, a path variable, and === and !==, which
// mean == and != (CEL's equality never converts types). The rewriting
// tokenizes the expression, so "$" and "===" inside string literals stay
// as they are. Identifiers starting with "_" are reserved.
//
// An expression sees:
//
//   - auth: null for an unauthenticated caller, else a map with uid (the
//     token's "sub") and token (all its claims), from [Auth];
//   - now: the time of the request, in Unix milliseconds (an int);
//   - each $variable bound on the way to the rule, as a string.
//
// Firebase's data, newData, root and query are not available, and an
// expression naming them does not compile.
//
// Every expression is compiled and type-checked by [Parse], and errors
// name the rule and the position in it:
//
//	rules: /users/$uid/.read: undeclared reference to 'aut' (did you mean 'auth'?) at 1:1
//
// An expression that evaluates to an error — reading a claim the
// token lacks, as in auth.token.admin == true — is false, as it is in
// Firebase; so is one whose value at run time is not a bool. Evaluation is
// bounded: a rule that spends more than a fixed budget of CEL cost units
// (about 10,000 operations, under a millisecond; real rules spend tens) is
// stopped and counts as false. The budget is enforced while evaluating, not
// estimated at Parse, since what a rule costs depends on the token it is
// shown.
//
// # Access
//
// [Access] puts grants and rules together for the server, which swaps its
// rules on reload with [Access.Set]: the admin may do anything, a grant is
// always an allow, and beyond them the rules decide, when there are any.
// [Who] describes the caller.
//
// What does not parse is an error that wraps [ErrInvalidGrant] or
// [ErrInvalidRules].
package rules

// Package selector implements Mercure topic selectors.
//
// A topic selector is an expression matched against topics, as defined by the
// classic Mercure protocol (draft-dunglas-mercure-07, Mercure v0.x). It is one
// of three things:
//
//   - the reserved string "*", which matches every topic;
//   - a plain topic such as "https://example.com/books/1", which matches that
//     exact topic, byte for byte;
//   - an RFC 6570 URI template such as "https://example.com/books/{id}",
//     which matches every topic that is a possible expansion of the template.
//
// Following the Mercure matching rules, a selector always matches the string
// it was parsed from, even when that string is a template: the selector
// "https://example.com/books/{id}" matches the topic
// "https://example.com/books/{id}" as well as "https://example.com/books/1".
// This lets a claim such as mercure.subscribe grant access to another
// subscription's selector.
//
// Templates are compiled once, by [Parse], into an anchored regular
// expression that follows RFC 6570 operator semantics (levels 1 to 4):
// a simple expression "{var}" matches unreserved characters and
// percent-encoded octets but never "/" or "?", "{+var}" and "{#var}" also
// match reserved characters, "{/a,b}" matches path segments, "{?q}" a query
// string, and so on. Matching uses Go's regexp package, whose running time is
// linear in the length of the topic, with no backtracking blow-up; but the
// time and memory of a match also grow with the size of the compiled
// program, which a client chooses. [Selector.Cost] measures it (about 50
// bytes of memory per unit once matched), and a hub bounds the total
// cost of a subscription's selectors instead of trusting their count;
// [Selector.Prefix] lets it match a template only against topics that
// start with the template's literal text.
//
// Strings that contain no brace are plain topics. A string with a brace must
// be a well-formed template: unbalanced braces, reserved operators ("=", ",",
// "!", "@", "|"), malformed variable names and modifiers are refused with an
// error that wraps [ErrInvalid].
//
// [Set] holds the selectors of one subscription or one claim and answers
// whether any of them matches a topic.
package selector

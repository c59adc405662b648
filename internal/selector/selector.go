package selector

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error of [Parse] and [ParseSet].
var ErrInvalid = errors.New("selector: invalid topic selector")

// All is the reserved selector that matches every topic.
const All = "*"

type kind uint8

const (
	kindExact kind = iota
	kindAll
	kindTemplate
)

// Selector is a parsed topic selector. It is immutable and safe for
// concurrent use. Create one with [Parse].
type Selector struct {
	raw  string
	kind kind
	tmpl *matcher // a template's; nil for the others, so a plain topic is 32 bytes
}

// matcher matches a template: the literal text before its first
// expression and after its last one, compared directly, and what lies
// between them: by run when the template is simple enough, else by re.
type matcher struct {
	prefix, suffix string
	re             *regexp.Regexp
	run            *charRun
	// cost is what matching costs in memory and time; see Cost.
	cost int
}

// Parse parses a topic selector: "*", a plain topic, or an RFC 6570 URI
// template (any string holding "{" or "}").
//
// A selector must be non-empty valid UTF-8 without control characters
// (U+0000–U+001F, U+007F–U+009F), the constraint Mercure puts on topics.
// A template must be well formed; see the package documentation. Every
// error wraps [ErrInvalid].
func Parse(s string) (*Selector, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalid)
	case s == All:
		return &Selector{raw: s, kind: kindAll}, nil
	case !utf8.ValidString(s):
		return nil, fmt.Errorf("%w %q: not valid UTF-8", ErrInvalid, s)
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return nil, fmt.Errorf("%w %q: control character at offset %d", ErrInvalid, s, i)
	}
	if !strings.ContainsAny(s, "{}") {
		return &Selector{raw: s, kind: kindExact}, nil
	}
	parts, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	return compileTemplate(s, parts)
}

func isControl(r rune) bool { return r < 0x20 || 0x7f <= r && r <= 0x9f }

// String returns the selector as it was parsed.
func (s *Selector) String() string { return s.raw }

// Exact returns the topic a plain selector matches; ok is false for "*"
// and for templates. Hubs use it to index subscriptions by topic.
func (s *Selector) Exact() (topic string, ok bool) {
	if s.kind != kindExact {
		return "", false
	}
	return s.raw, true
}

// Cost measures what s costs a hub that matches it: the instructions of
// its compiled matcher (a template run by a regular expression), or 1 for
// "*", a plain topic, or a template simple enough to need none. Memory
// and matching time grow with it, so a hub bounds the total cost of a
// subscription's selectors rather than only their count.
func (s *Selector) Cost() int {
	if s.tmpl == nil {
		return 1
	}
	return max(s.tmpl.cost, 1)
}

// Prefix is the literal text every topic s matches starts with, but for
// the string s was parsed from: "" for "*", the topic for a plain
// selector, the text before the first expression for a template. A hub
// indexes selectors by it, so that an event meets only the selectors that
// could match its topics.
func (s *Selector) Prefix() string {
	switch s.kind {
	case kindAll:
		return ""
	case kindExact:
		return s.raw
	}
	return s.tmpl.prefix
}

// IsAll reports whether s is the reserved selector "*".
func (s *Selector) IsAll() bool { return s.kind == kindAll }

// IsTemplate reports whether s is a URI template.
func (s *Selector) IsTemplate() bool { return s.kind == kindTemplate }

// Match reports whether topic matches s, following the Mercure rules:
// "*" matches every topic, any selector matches the exact string it was
// parsed from, and a template matches every possible expansion of itself.
func (s *Selector) Match(topic string) bool {
	switch {
	case s.kind == kindAll || topic == s.raw:
		return true
	case s.kind == kindExact:
		return false
	}
	return s.tmpl.match(topic)
}

func (m *matcher) match(topic string) bool {
	if len(topic) < len(m.prefix)+len(m.suffix) ||
		!strings.HasPrefix(topic, m.prefix) || !strings.HasSuffix(topic, m.suffix) {
		return false
	}
	middle := topic[len(m.prefix) : len(topic)-len(m.suffix)]
	if m.run != nil {
		return m.run.match(middle)
	}
	// Expansions are valid UTF-8; the check also keeps an invalid byte,
	// which the regexp reads as U+FFFD, from matching a literal U+FFFD.
	return utf8.ValidString(middle) && m.re.MatchString(middle)
}

// Set is a list of selectors, such as the topics of one subscription or the
// grants of one claim. A nil Set matches nothing.
type Set []*Selector

// ParseSet parses every string of ss with [Parse]. It returns nil for an
// empty ss, and the first error met, which names the offending selector.
func ParseSet(ss []string) (Set, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	set := make(Set, len(ss))
	for i, s := range ss {
		sel, err := Parse(s)
		if err != nil {
			return nil, err
		}
		set[i] = sel
	}
	return set, nil
}

// Match reports whether at least one selector of set matches topic.
func (set Set) Match(topic string) bool {
	for _, s := range set {
		if s.Match(topic) {
			return true
		}
	}
	return false
}

// MatchAny reports whether at least one selector of set matches at least
// one of topics: the Mercure rule for delivering an update, whose topics are
// its canonical topic and its alternates.
func (set Set) MatchAny(topics []string) bool {
	for _, s := range set {
		for _, t := range topics {
			if s.Match(t) {
				return true
			}
		}
	}
	return false
}

// Cost is the sum of the selectors' [Selector.Cost].
func (set Set) Cost() int {
	n := 0
	for _, s := range set {
		n += s.Cost()
	}
	return n
}

// Strings returns the selectors as they were parsed.
func (set Set) Strings() []string {
	if set == nil {
		return nil
	}
	ss := make([]string, len(set))
	for i, s := range set {
		ss[i] = s.raw
	}
	return ss
}

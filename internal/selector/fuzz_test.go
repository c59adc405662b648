package selector

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that its errors wrap ErrInvalid,
// that a selector matches the string it was parsed from, and that a template
// matches its own expansions, produced by the reference expander of
// expand_test.go with values of every shape.
func FuzzParse(f *testing.F) {
	for _, ex := range rfcExamples {
		f.Add(ex[0], "Hello World!", uint64(0x5555))
	}
	f.Add("https://example.com/books/{id}", "1", uint64(1))
	f.Add("https://example.com/{+path}{?q*}", "a/b c%41é", uint64(0xffff))
	f.Add("/items{/id*}{?fields,page}{#frag}", "50%", uint64(0x1b))
	f.Add("{x:3}{;y:2,z}{&w*}", "😀éab", uint64(0x2d))
	f.Add("*", "", uint64(0))
	f.Add("urn:plain", "x", uint64(0))
	f.Add("{", "", uint64(0))
	f.Add("{+x}", "%4g%41/?#", uint64(0))
	f.Add("{#x,y}", "#a,b", uint64(0))
	f.Fuzz(func(t *testing.T, s, val string, shape uint64) {
		sel, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, which does not wrap ErrInvalid", s, err)
			}
			return
		}
		if sel.String() != s || !sel.Match(s) {
			t.Fatalf("Parse(%q) does not match itself", s)
		}
		sel.Match(val) // any topic: must not panic
		if !sel.IsTemplate() {
			return
		}
		parts, err := parseTemplate(s)
		if err != nil {
			t.Fatalf("Parse accepted %q but parseTemplate says %v", s, err)
		}
		if sel.tmpl.run != nil {
			// The regexp-free matcher must agree with the regexp it replaces.
			_, middle, _ := splitLiterals(parts)
			pattern, _ := middlePattern(middle)
			if want := regexp.MustCompile(pattern).MatchString(val); sel.tmpl.run.match(val) != want {
				t.Fatalf("%q: the regexp-free matcher says %v for %q, the regexp %v", s, !want, val, want)
			}
		}
		for range 4 {
			topic := expand(parts, fuzzVars(parts, val, shape))
			if !sel.Match(topic) {
				t.Fatalf("%q does not match its expansion %q (value %q, shape %#x, regexp %v)", s, topic, val, shape, sel.tmpl.re)
			}
			shape = shape>>7 | shape<<57
		}
	})
}

// FuzzMatch checks Match on any topic, and on the expansions of a
// template, for what a hub relies on: Cost is at least 1; a matching topic
// starts with Prefix (the hub's index shows a topic only to the selectors
// whose prefix it starts with), the raw selector aside; and Match agrees
// with the one regexp of the whole template, so that splitting off the
// literal prefix and suffix and the regexp-free matcher change nothing.
func FuzzMatch(f *testing.F) {
	f.Add("https://example.com/books/{id}", "https://example.com/books/1", uint64(1))
	f.Add("https://example.com/books/{id}", "https://example.com/books/a/b", uint64(1))
	f.Add("https://example.com/{+path}.json", "https://example.com/a/b%20c.json", uint64(1))
	f.Add("https://example.com/users/{id}/books{/book*}{?q,lang}", "https://example.com/users/7/books/1/2?q=x&lang=fr", uint64(0x1e))
	f.Add("{x}/{y}", "1/2", uint64(0x5))
	f.Add("é{x}é", "é\xc3é", uint64(1))
	f.Add("a{x:3}b", "a%C3%A9b", uint64(1))
	f.Add("urn:plain", "urn:plain", uint64(0))
	f.Add("*", "anything", uint64(0))
	f.Add("{#x,y}", "#a,b", uint64(0))
	f.Fuzz(func(t *testing.T, s, topic string, shape uint64) {
		sel, err := Parse(s)
		if err != nil {
			return
		}
		if sel.Cost() < 1 {
			t.Fatalf("Parse(%q).Cost() = %d, want at least 1", s, sel.Cost())
		}
		want := func(string) bool { return true }
		topics := []string{topic}
		switch {
		case sel.IsTemplate():
			parts, err := parseTemplate(s)
			if err != nil {
				t.Fatalf("Parse accepted %q but parseTemplate says %v", s, err)
			}
			whole, _ := middlePattern(parts)
			re := regexp.MustCompile(whole)
			want = func(topic string) bool { return topic == s || utf8.ValidString(topic) && re.MatchString(topic) }
			topics = append(topics, expand(parts, fuzzVars(parts, topic, shape)))
		case !sel.IsAll():
			want = func(topic string) bool { return topic == s }
		}
		for i, topic := range topics {
			got := sel.Match(topic)
			if i > 0 && !got {
				t.Fatalf("%q does not match its expansion %q", s, topic)
			}
			if got != want(topic) {
				t.Fatalf("%q.Match(%q) = %v, want %v", s, topic, got, !got)
			}
			if got && topic != s && !strings.HasPrefix(topic, sel.Prefix()) {
				t.Fatalf("%q matches %q, which does not start with its prefix %q", s, topic, sel.Prefix())
			}
		}
	})
}

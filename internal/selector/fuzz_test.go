package selector

import (
	"errors"
	"regexp"
	"testing"
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
		if sel.run != nil {
			// The regexp-free matcher must agree with the regexp it replaces.
			_, middle, _ := splitLiterals(parts)
			pattern, _ := middlePattern(middle)
			if want := regexp.MustCompile(pattern).MatchString(val); sel.run.match(val) != want {
				t.Fatalf("%q: the regexp-free matcher says %v for %q, the regexp %v", s, !want, val, want)
			}
		}
		for range 4 {
			topic := expand(parts, fuzzVars(parts, val, shape))
			if !sel.Match(topic) {
				t.Fatalf("%q does not match its expansion %q (value %q, shape %#x, regexp %v)", s, topic, val, shape, sel.re)
			}
			shape = shape>>7 | shape<<57
		}
	})
}

package selector

import (
	"strconv"
	"testing"
)

// BenchmarkMatch measures one Selector.Match call (ns/op) for each kind of
// selector, on a matching topic and on the two ways a template can miss.
func BenchmarkMatch(b *testing.B) {
	benchmarks := []struct {
		name, selector, topic string
		want                  bool
	}{
		{"all", "*", "https://example.com/books/1", true},
		{"exact/hit", "https://example.com/books/1", "https://example.com/books/1", true},
		{"exact/miss", "https://example.com/books/1", "https://example.com/books/2", false},
		{"template/hit", "https://example.com/books/{id}", "https://example.com/books/12345", true},
		{"template/miss-literal", "https://example.com/books/{id}", "https://example.com/authors/12345", false},
		{"template/miss-expression", "https://example.com/books/{id}", "https://example.com/books/1/reviews", false},
		{"template/level4-hit", "https://example.com/users/{user}/books{/id*}{?fields,page}", "https://example.com/users/kd/books/1/2?fields=title,isbn&page=3", true},
		{"template/reserved-hit", "https://example.com/{+path}", "https://example.com/a/b/c/d/e/f?g=h", true},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			sel := mustParse(b, bm.selector)
			if sel.Match(bm.topic) != bm.want {
				b.Fatalf("%q.Match(%q) != %v", bm.selector, bm.topic, bm.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				sel.Match(bm.topic)
			}
		})
	}
}

// BenchmarkMatchAny measures Set.MatchAny (ns/op) for a claim of ten
// template selectors against an update with a canonical and an alternate
// topic, where only the last selector matches the alternate.
func BenchmarkMatchAny(b *testing.B) {
	ss := make([]string, 10)
	for i := range ss {
		ss[i] = "https://example.com/shelf" + strconv.Itoa(i) + "/{id}"
	}
	set, err := ParseSet(ss)
	if err != nil {
		b.Fatal(err)
	}
	topics := []string{"https://example.com/books/1", "https://example.com/shelf9/1"}
	if !set.MatchAny(topics) {
		b.Fatal("no match")
	}
	b.ReportAllocs()
	for b.Loop() {
		set.MatchAny(topics)
	}
}

// BenchmarkParse measures parsing and compiling a selector (ns/op): a
// template simple enough to need no regexp, and a level 4 template.
func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, selector string }{
		{"simple", "https://example.com/books/{id}"},
		{"level4", "https://example.com/users/{user}/books{/id*}{?fields,page}"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bm.selector); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package selector

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) *Selector {
	t.Helper()
	sel, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sel
}

// rfcVars are the variables of RFC 6570 section 3.2.
var rfcVars = map[string]any{
	"count":      []string{"one", "two", "three"},
	"dom":        []string{"example", "com"},
	"dub":        "me/too",
	"hello":      "Hello World!",
	"half":       "50%",
	"var":        "value",
	"who":        "fred",
	"base":       "http://example.com/home/",
	"path":       "/foo/bar",
	"list":       []string{"red", "green", "blue"},
	"keys":       []kv{{"semi", ";"}, {"dot", "."}, {"comma", ","}},
	"v":          "6",
	"x":          "1024",
	"y":          "768",
	"empty":      "",
	"empty_keys": []kv{},
}

// rfcExamples are the template/expansion pairs of RFC 6570 section 3.2.
var rfcExamples = [][2]string{
	// 3.2.1 Variable Expansion
	{"{count}", "one,two,three"},
	{"{count*}", "one,two,three"},
	{"{/count}", "/one,two,three"},
	{"{/count*}", "/one/two/three"},
	{"{;count}", ";count=one,two,three"},
	{"{;count*}", ";count=one;count=two;count=three"},
	{"{?count}", "?count=one,two,three"},
	{"{?count*}", "?count=one&count=two&count=three"},
	{"{&count*}", "&count=one&count=two&count=three"},
	// 3.2.2 Simple String Expansion
	{"{var}", "value"},
	{"{hello}", "Hello%20World%21"},
	{"{half}", "50%25"},
	{"O{empty}X", "OX"},
	{"O{undef}X", "OX"},
	{"{x,y}", "1024,768"},
	{"{x,hello,y}", "1024,Hello%20World%21,768"},
	{"?{x,empty}", "?1024,"},
	{"?{x,undef}", "?1024"},
	{"?{undef,y}", "?768"},
	{"{var:3}", "val"},
	{"{var:30}", "value"},
	{"{list}", "red,green,blue"},
	{"{list*}", "red,green,blue"},
	{"{keys}", "semi,%3B,dot,.,comma,%2C"},
	{"{keys*}", "semi=%3B,dot=.,comma=%2C"},
	// 3.2.3 Reserved Expansion
	{"{+var}", "value"},
	{"{+hello}", "Hello%20World!"},
	{"{+half}", "50%25"},
	{"{base}index", "http%3A%2F%2Fexample.com%2Fhome%2Findex"},
	{"{+base}index", "http://example.com/home/index"},
	{"O{+empty}X", "OX"},
	{"O{+undef}X", "OX"},
	{"{+path}/here", "/foo/bar/here"},
	{"here?ref={+path}", "here?ref=/foo/bar"},
	{"up{+path}{var}/here", "up/foo/barvalue/here"},
	{"{+x,hello,y}", "1024,Hello%20World!,768"},
	{"{+path,x}/here", "/foo/bar,1024/here"},
	{"{+path:6}/here", "/foo/b/here"},
	{"{+list}", "red,green,blue"},
	{"{+list*}", "red,green,blue"},
	{"{+keys}", "semi,;,dot,.,comma,,"},
	{"{+keys*}", "semi=;,dot=.,comma=,"},
	// 3.2.4 Fragment Expansion
	{"{#var}", "#value"},
	{"{#hello}", "#Hello%20World!"},
	{"{#half}", "#50%25"},
	{"foo{#empty}", "foo#"},
	{"foo{#undef}", "foo"},
	{"{#x,hello,y}", "#1024,Hello%20World!,768"},
	{"{#path,x}/here", "#/foo/bar,1024/here"},
	{"{#path:6}/here", "#/foo/b/here"},
	{"{#list}", "#red,green,blue"},
	{"{#list*}", "#red,green,blue"},
	{"{#keys}", "#semi,;,dot,.,comma,,"},
	{"{#keys*}", "#semi=;,dot=.,comma=,"},
	// 3.2.5 Label Expansion with Dot-Prefix
	{"{.who}", ".fred"},
	{"{.who,who}", ".fred.fred"},
	{"{.half,who}", ".50%25.fred"},
	{"www{.dom*}", "www.example.com"},
	{"X{.var}", "X.value"},
	{"X{.empty}", "X."},
	{"X{.undef}", "X"},
	{"X{.var:3}", "X.val"},
	{"X{.list}", "X.red,green,blue"},
	{"X{.list*}", "X.red.green.blue"},
	{"X{.keys}", "X.semi,%3B,dot,.,comma,%2C"},
	{"X{.keys*}", "X.semi=%3B.dot=..comma=%2C"},
	{"X{.empty_keys}", "X"},
	{"X{.empty_keys*}", "X"},
	// 3.2.6 Path Segment Expansion
	{"{/who}", "/fred"},
	{"{/who,who}", "/fred/fred"},
	{"{/half,who}", "/50%25/fred"},
	{"{/who,dub}", "/fred/me%2Ftoo"},
	{"{/var}", "/value"},
	{"{/var,empty}", "/value/"},
	{"{/var,undef}", "/value"},
	{"{/var,x}/here", "/value/1024/here"},
	{"{/var:1,var}", "/v/value"},
	{"{/list}", "/red,green,blue"},
	{"{/list*}", "/red/green/blue"},
	{"{/list*,path:4}", "/red/green/blue/%2Ffoo"},
	{"{/keys}", "/semi,%3B,dot,.,comma,%2C"},
	{"{/keys*}", "/semi=%3B/dot=./comma=%2C"},
	// 3.2.7 Path-Style Parameter Expansion
	{"{;who}", ";who=fred"},
	{"{;half}", ";half=50%25"},
	{"{;empty}", ";empty"},
	{"{;v,empty,who}", ";v=6;empty;who=fred"},
	{"{;v,bar,who}", ";v=6;who=fred"},
	{"{;x,y}", ";x=1024;y=768"},
	{"{;x,y,empty}", ";x=1024;y=768;empty"},
	{"{;x,y,undef}", ";x=1024;y=768"},
	{"{;hello:5}", ";hello=Hello"},
	{"{;list}", ";list=red,green,blue"},
	{"{;list*}", ";list=red;list=green;list=blue"},
	{"{;keys}", ";keys=semi,%3B,dot,.,comma,%2C"},
	{"{;keys*}", ";semi=%3B;dot=.;comma=%2C"},
	// 3.2.8 Form-Style Query Expansion
	{"{?who}", "?who=fred"},
	{"{?half}", "?half=50%25"},
	{"{?x,y}", "?x=1024&y=768"},
	{"{?x,y,empty}", "?x=1024&y=768&empty="},
	{"{?x,y,undef}", "?x=1024&y=768"},
	{"{?var:3}", "?var=val"},
	{"{?list}", "?list=red,green,blue"},
	{"{?list*}", "?list=red&list=green&list=blue"},
	{"{?keys}", "?keys=semi,%3B,dot,.,comma,%2C"},
	{"{?keys*}", "?semi=%3B&dot=.&comma=%2C"},
	// 3.2.9 Form-Style Query Continuation
	{"{&who}", "&who=fred"},
	{"{&half}", "&half=50%25"},
	{"?fixed=yes{&x}", "?fixed=yes&x=1024"},
	{"{&x,y,empty}", "&x=1024&y=768&empty="},
	{"{&var:3}", "&var=val"},
	{"{&list}", "&list=red,green,blue"},
	{"{&list*}", "&list=red&list=green&list=blue"},
	{"{&keys}", "&keys=semi,%3B,dot,.,comma,%2C"},
	{"{&keys*}", "&semi=%3B&dot=.&comma=%2C"},
}

// TestRFCExamples checks the reference expander against RFC 6570, then that
// each template matches its documented expansion.
func TestRFCExamples(t *testing.T) {
	for _, ex := range rfcExamples {
		tmpl, want := ex[0], ex[1]
		parts, err := parseTemplate(tmpl)
		if err != nil {
			t.Fatalf("parseTemplate(%q): %v", tmpl, err)
		}
		if got := expand(parts, rfcVars); got != want {
			t.Errorf("expand(%q) = %q, RFC 6570 says %q", tmpl, got, want)
		}
		if sel := mustParse(t, tmpl); !sel.Match(want) {
			t.Errorf("%q does not match its RFC 6570 expansion %q (regexp %s)", tmpl, want, sel.tmpl.re)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		selector string
		match    []string
		noMatch  []string
	}{
		{
			selector: "*",
			match:    []string{"a", "https://example.com/x", "*", "{x}"},
		},
		{
			selector: "https://example.com/books/1",
			match:    []string{"https://example.com/books/1"},
			noMatch:  []string{"https://example.com/books/1/", "https://example.com/books/12", "https://example.com/books/", "HTTPS://example.com/books/1", ""},
		},
		{
			selector: "https://example.com/books/{id}",
			match: []string{
				"https://example.com/books/{id}", // a selector matches itself
				"https://example.com/books/1",
				"https://example.com/books/",
				"https://example.com/books/a-b.c_d~e",
				"https://example.com/books/caf%C3%A9",
				"https://example.com/books/1,2,3", // a list value
			},
			noMatch: []string{
				"https://example.com/books/1/reviews",
				"https://example.com/books/1?x=y",
				"https://example.com/books/1#top",
				"https://example.com/books/a b",
				"https://example.com/books/café", // unencoded
				"https://example.com/books/%zz",
				"https://example.com/books/%4",
				"https://example.com/books/a=b", // "=" comes from an exploded map only
				"https://example.com/book/1",
				"http://example.com/books/1",
				"https://example.com/books",
			},
		},
		{
			selector: "https://example.com/{+path}",
			match:    []string{"https://example.com/a/b/c?d=e#f", "https://example.com/", "https://example.com/%20x"},
			noMatch:  []string{"https://example.com/a b", "https://example.com/a%2", "https://example.com/a\"b", "https://example.com/a<b>", "http://example.com/a"},
		},
		{
			selector: "https://example.com/users/{id}/books/{book}",
			match:    []string{"https://example.com/users/1/books/2", "https://example.com/users//books/"},
			noMatch:  []string{"https://example.com/users/1/2/books/3", "https://example.com/users/1/books/2/3", "https://example.com/users/1/book/2"},
		},
		{
			selector: "/items{/id*}{?fields,page}",
			match:    []string{"/items", "/items/1", "/items/1/2/3", "/items/1?fields=a,b&page=2", "/items?page=2", "/items/a=b/c=d"},
			noMatch:  []string{"/items?page=2&fields=a", "/items?fields", "/items&page=2", "/items/1?page=2&other=3", "/itemsx"},
		},
		{
			selector: "{#frag}",
			match:    []string{"", "#", "#a/b?c", "#a,b"},
			noMatch:  []string{"a", "##a b"},
		},
		{
			selector: "x{.ext}",
			match:    []string{"x", "x.", "x.json", "x.tar.gz", "x.a,b"},
			noMatch:  []string{"xjson", "x.a/b"},
		},
		{
			selector: "x{/a,b}",
			match:    []string{"x", "x/1", "x/1/2", "x//"},
			noMatch:  []string{"x/1/2/3", "x1"},
		},
		{
			selector: "x{;a,b}",
			match:    []string{"x", "x;a", "x;a=", "x;a=1", "x;b=2", "x;a=1;b=2", "x;a=1,2"}, // "x;a=": a list of one empty string
			noMatch:  []string{"x;b=2;a=1", "x;c=1", "x;a=1;a=2", "x;a=1;"},
		},
		{
			selector: "x{;a*}",
			match:    []string{"x;a=1;a=2", "x;k=v;j", "x;a"},
			noMatch:  []string{"x;a=1&a=2", "xa"},
		},
		{
			selector: "x{?q}",
			match:    []string{"x", "x?q=", "x?q=a%20b", "x?q=a,b"},
			noMatch:  []string{"x?q", "x?r=1", "x?q=1&r=2", "x?q=a b"},
		},
		{
			selector: "x{?q*}",
			match:    []string{"x?q=1&q=2", "x?a=1&b=", "x?a="},
			noMatch:  []string{"x?a", "x?a=1&b", "x&a=1"},
		},
		{
			selector: "x?a=1{&b,c}",
			match:    []string{"x?a=1", "x?a=1&b=2", "x?a=1&c=", "x?a=1&b=2&c=3"},
			noMatch:  []string{"x?a=1&c=3&b=2", "x?a=1&b"},
		},
		{
			selector: "{var:3}",
			match:    []string{"", "v", "val", "%C3%A9%C3%A9%C3%A9", "%F0%9F%98%80ab"},
			noMatch:  []string{"valu", "%C3%A9%C3%A9%C3%A9%C3%A9", "v/l"},
		},
		{
			selector: "x{;v:2}",
			match:    []string{"x", "x;v", "x;v=a", "x;v=ab"},
			noMatch:  []string{"x;v=", "x;v=abc"},
		},
		{
			selector: "x{?v:2}",
			match:    []string{"x", "x?v=", "x?v=ab"},
			noMatch:  []string{"x?v", "x?v=abc"},
		},
		{
			// Longer prefixes are not enforced; see maxExactPrefix.
			selector: "x{v:100}",
			match:    []string{"x" + strings.Repeat("a", 100), "x" + strings.Repeat("a", 101)},
			noMatch:  []string{"x/"},
		},
		{
			selector: "x{;v:100}",
			match:    []string{"x", "x;v", "x;v=" + strings.Repeat("a", 101)},
			noMatch:  []string{"x;v="},
		},
		{
			selector: "https://example.com/ünïcode/{id}",
			match:    []string{"https://example.com/ünïcode/1"},
			noMatch:  []string{"https://example.com/unicode/1", "https://example.com/ünïcode/\xff"},
		},
		{
			selector: "a.b{x}c+d",
			match:    []string{"a.b1c+d"},
			noMatch:  []string{"aXb1c+d", "a.b1cd", "a.b1c+dd"},
		},
	}
	for _, tt := range tests {
		sel := mustParse(t, tt.selector)
		for _, topic := range tt.match {
			if !sel.Match(topic) {
				t.Errorf("%q should match %q (regexp %v)", tt.selector, topic, regexpOf(sel))
			}
		}
		for _, topic := range tt.noMatch {
			if sel.Match(topic) {
				t.Errorf("%q should not match %q (regexp %v)", tt.selector, topic, regexpOf(sel))
			}
		}
	}
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in                  string
		all, exact, tmpl    bool
		exactTopic, display string
	}{
		{in: "*", all: true},
		{in: "https://example.com/x", exact: true, exactTopic: "https://example.com/x"},
		{in: "urn:uuid:1234", exact: true, exactTopic: "urn:uuid:1234"},
		{in: "with space and * star", exact: true, exactTopic: "with space and * star"},
		{in: "**", exact: true, exactTopic: "**"},
		{in: "https://example.com/{x}", tmpl: true},
		{in: "{x}", tmpl: true},
	}
	for _, tt := range tests {
		sel := mustParse(t, tt.in)
		if sel.String() != tt.in {
			t.Errorf("Parse(%q).String() = %q", tt.in, sel.String())
		}
		if sel.IsAll() != tt.all || sel.IsTemplate() != tt.tmpl {
			t.Errorf("Parse(%q): IsAll %v IsTemplate %v, want %v %v", tt.in, sel.IsAll(), sel.IsTemplate(), tt.all, tt.tmpl)
		}
		topic, ok := sel.Exact()
		if ok != tt.exact || topic != tt.exactTopic {
			t.Errorf("Parse(%q).Exact() = %q, %v; want %q, %v", tt.in, topic, ok, tt.exactTopic, tt.exact)
		}
	}
}

func TestParseErrors(t *testing.T) {
	manyVars := "{" + strings.Repeat("v,", maxVars) + "v}"
	var heavy strings.Builder
	for i := range 20 {
		fmt.Fprintf(&heavy, "{?a%d:64}", i)
	}
	tests := []struct{ in, why string }{
		{"", "empty"},
		{"{", "unclosed '{'"},
		{"https://example.com/{id", "unclosed '{'"},
		{"https://example.com/id}", "unmatched '}'"},
		{"}{x}", "unmatched '}'"},
		{"{x}}", "unmatched '}'"},
		{"{{x}}", "invalid variable name"},
		{"{}", "empty expression"},
		{"{=x}", "reserved operator"},
		{"{,x}", "reserved operator"},
		{"{!x}", "reserved operator"},
		{"{@x}", "reserved operator"},
		{"{|x}", "reserved operator"},
		{"{+}", "missing variable name"},
		{"{x,}", "missing variable name"},
		{"{,}", "reserved operator"},
		{"{x-y}", "invalid variable name"},
		{"{x y}", "invalid variable name"},
		{"{.x.}", "invalid variable name"},
		{"{x..y}", "invalid variable name"},
		{"{.x..y}", "invalid variable name"},
		{"{x%2}", "invalid variable name"},
		{"{x%zz}", "invalid variable name"},
		{"{é}", "invalid variable name"},
		{"{*}", "missing variable name"},
		{"{x**}", "invalid variable name"},
		{"{x*:3}", "invalid variable name"},
		{"{x:3*}", "invalid variable name"},
		{"{x:}", "invalid prefix length"},
		{"{x:0}", "invalid prefix length"},
		{"{x:01}", "invalid prefix length"},
		{"{x:10000}", "invalid prefix length"},
		{"{x:1a}", "invalid prefix length"},
		{"{x:-1}", "invalid prefix length"},
		{manyVars, "more than 32 variables"},
		{heavy.String(), "too complex"},
		{"a\nb", "control character"},
		{"a\x00{x}", "control character"},
		{"a\u0085b", "control character"},
		{"a\x7f", "control character"},
		{"\xff{x}", "not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", tt.in, tt.why)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, which does not wrap ErrInvalid", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Parse(%q) = %q, want it to say %q", tt.in, err, tt.why)
		}
	}
}

func TestParseValidTemplates(t *testing.T) {
	for _, s := range []string{
		"{x:9999}", "{x:1}", "{a.b}", "{a%20b}", "{_}", "{A_1.b2}", "{x,y*,z:5}",
		"{?" + strings.Repeat("v,", maxVars-1) + "v}",
		"https://example.com/{a}/{+b}/{#c}/{.d}/{/e}/{;f}/{?g}/{&h}",
	} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func TestSet(t *testing.T) {
	set, err := ParseSet([]string{"https://example.com/books/{id}", "urn:a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Strings(); len(got) != 2 || got[0] != "https://example.com/books/{id}" || got[1] != "urn:a" {
		t.Errorf("Strings() = %q", got)
	}
	for _, tt := range []struct {
		topics []string
		want   bool
	}{
		{[]string{"https://example.com/books/1"}, true},
		{[]string{"urn:b", "urn:a"}, true}, // an alternate topic matches
		{[]string{"urn:b", "https://example.com/authors/1"}, false},
		{nil, false},
	} {
		if got := set.MatchAny(tt.topics); got != tt.want {
			t.Errorf("MatchAny(%q) = %v, want %v", tt.topics, got, tt.want)
		}
	}
	if !set.Match("urn:a") || set.Match("urn:b") {
		t.Error("Match disagrees with the set's selectors")
	}

	empty, err := ParseSet(nil)
	if err != nil || empty != nil {
		t.Fatalf("ParseSet(nil) = %v, %v; want nil, nil", empty, err)
	}
	if empty.Match("x") || empty.MatchAny([]string{"x"}) || empty.Strings() != nil {
		t.Error("an empty set matches something")
	}

	_, err = ParseSet([]string{"ok", "bad{"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"bad{"`) {
		t.Errorf("ParseSet with a bad selector = %v, want an error naming it", err)
	}
}

// TestMatchConcurrent runs matches from several goroutines; with -race it
// shows that a Selector may be shared.
func TestMatchConcurrent(t *testing.T) {
	sel := mustParse(t, "https://example.com/books/{id}")
	done := make(chan bool)
	for i := range 4 {
		go func() {
			ok := true
			for j := range 200 {
				ok = ok && sel.Match(fmt.Sprintf("https://example.com/books/%d", i*1000+j))
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent match failed")
		}
	}
}

// regexpOf is the regexp sel matches with, if it has one, for messages.
func regexpOf(sel *Selector) *regexp.Regexp {
	if sel.tmpl == nil {
		return nil
	}
	return sel.tmpl.re
}

package tree

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse reads arbitrary bytes as a PUT body. Parse must not panic, must
// call malformed exactly what encoding/json does, and what it accepts must
// render as valid JSON that reads back as the same value, with the totals
// the nodes keep.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`1`, `"s"`, `{"a":{"b":[1,null,"x"]}}`, `{".sv":"timestamp"}`, `[[[[1]]]]`, `{"a":1,"a":2}`, `"\ud83d\ude00\u0000"`, `-0.0e-7`, `{"10":1,"9":{"0":true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(data, Limits{MaxDepth: 8})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			if err == errSyntax && json.Valid(data) {
				t.Fatalf("Parse calls valid JSON %q malformed", data)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		out := n.AppendJSON(nil, Format{})
		if !json.Valid(out) || !json.Valid(n.AppendJSON(nil, Format{Pretty: true})) {
			t.Fatalf("%q renders as invalid JSON %q", data, out)
		}
		back, err := Parse(out, Limits{MaxDepth: 8})
		if err != nil || !back.Equal(n) {
			t.Fatalf("%q renders as %q, which reads back as %v, %v", data, out, back, err)
		}
		checkTotals(t, string(data), n)
	})
}

// FuzzParseUpdate reads arbitrary bytes as a PATCH body: no panic, and
// accepted changes are sorted, disjoint, and survive a trip through a stream
// event's data.
func FuzzParseUpdate(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a/b":1,"c":null}`, `{"a":1,"a/b":2}`, `{"/a//b/":{"c":[1]}}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		changes, err := ParseUpdate(data, Limits{MaxDepth: 8})
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("ParseUpdate accepted invalid JSON %q", data)
		}
		for i := 1; i < len(changes); i++ {
			if changes[i-1].Rel.compare(changes[i].Rel) >= 0 || changes[i].Rel.HasPrefix(changes[i-1].Rel) {
				t.Fatalf("changes %s and %s out of order or not disjoint", changes[i-1].Rel, changes[i].Rel)
			}
		}
		op := &Op{Kind: KindPatch, Path: Path{"p"}, Changes: changes}
		back, err := DecodeOp(KindPatch, op.AppendData(nil), Limits{MaxDepth: 8})
		if err != nil || !sameOp(back, op) {
			t.Fatalf("%q: event data %s reads back as %v, %v", data, op.AppendData(nil), back, err)
		}
	})
}

// FuzzParsePath reads arbitrary escaped paths: no panic, only valid keys,
// and a path escaped again parses to itself.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "/users/al%20ice/x", "a//b/", "/a%2Fb", "/../a", "/%zz", "/%E2%82%AC", "/a%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		p, err := ParsePath(escaped)
		if err != nil {
			return
		}
		var segs []string
		for _, k := range p {
			if err := ValidKey(k); err != nil {
				t.Fatalf("ParsePath(%q) gave key %q: %v", escaped, k, err)
			}
			segs = append(segs, url.PathEscape(k))
		}
		again, err := ParsePath("/" + strings.Join(segs, "/"))
		if err != nil || !again.Equal(p) {
			t.Fatalf("ParsePath(%q) = %q; escaped again it reads %q, %v", escaped, p, again, err)
		}
	})
}

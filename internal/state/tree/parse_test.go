package tree

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string // want: compact JSON, or the error's text after "!"
	}{
		{`1`, `1`},
		{` "s" `, `"s"`},
		{`true`, `true`},
		{`false`, `false`},
		{`null`, `null`},
		{"\t\n\r {\"a\" : 1 } \n", `{"a":1}`},
		{`""`, `""`},
		{`{}`, `null`},
		{`[]`, `null`},
		{`{"a":null}`, `null`},
		{`{"a":{"b":null,"c":{}},"d":[]}`, `null`},
		{`{"a":{"b":null,"c":1}}`, `{"a":{"c":1}}`},
		{`[1,null,3]`, `[1,null,3]`},
		{`["a","b",{"c":[true]}]`, `["a","b",{"c":[true]}]`},
		{`{"b":1,"a":2,"10":3,"9":4}`, `{"9":4,"10":3,"a":2,"b":1}`},

		// Numbers as JavaScript holds them.
		{`1.0`, `1`},
		{`-0`, `0`},
		{`-0.0`, `0`},
		{`1e2`, `100`},
		{`1E+2`, `100`},
		{`-12.5`, `-12.5`},
		{`1.5e-7`, `1.5e-7`},
		{`0.000001`, `0.000001`},
		{`9007199254740993`, `9007199254740992`},
		{`123456789012345678901234`, `1.2345678901234569e+23`},
		{`1e21`, `1e+21`},
		{`100000000000000000000`, `100000000000000000000`},
		{`1e-400`, `0`},
		{`1e400`, `!out of range`},
		{`-1e400`, `!out of range`},
		{`01`, `!couldn't parse`},
		{`1.`, `!couldn't parse`},
		{`.5`, `!couldn't parse`},
		{`-`, `!couldn't parse`},
		{`+1`, `!couldn't parse`},
		{`1e`, `!couldn't parse`},
		{`NaN`, `!couldn't parse`},
		{`Infinity`, `!couldn't parse`},

		// Strings.
		{`"\u00e9\n\"\\\/"`, `"é\n\"\\/"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`"\ud800"`, `"�"`},
		{`"\ud800\u0041"`, `"�A"`},
		{`"\ude00\ud83d"`, `"��"`},
		{"\"a\tb\"", `!couldn't parse`},
		{"\"\xff\"", `!UTF-8`},
		{"\"\\n\xff\"", `!UTF-8`},
		{`"\x"`, `!couldn't parse`},
		{`"\u12"`, `!couldn't parse`},
		{`"abc`, `!couldn't parse`},

		// Structure.
		{``, `!couldn't parse`},
		{`   `, `!couldn't parse`},
		{`1 2`, `!couldn't parse`},
		{`{"a":1}}`, `!couldn't parse`},
		{`{"a":1,}`, `!couldn't parse`},
		{`[1,]`, `!couldn't parse`},
		{`[1 2]`, `!couldn't parse`},
		{`{"a" 1}`, `!couldn't parse`},
		{`{a:1}`, `!couldn't parse`},
		{`{"a":1]`, `!couldn't parse`},
		{`[1}`, `!couldn't parse`},
		{`{"a":}`, `!couldn't parse`},
		{`{`, `!couldn't parse`},
		{`[`, `!couldn't parse`},
		{`nul`, `!couldn't parse`},
		{`truex`, `!couldn't parse`},

		// Keys.
		{`{"a":1,"a":2}`, `!duplicate key "a"`},
		{`{"a":null,"a":1}`, `!duplicate key "a"`},
		{`{"x":{"b":1,"a":2,"b":3}}`, `!duplicate key "b"`},
		{`{"a.b":1}`, `!Invalid key "a.b"`},
		{`{"":1}`, `!must not be empty`},
		{`{"a/b":1}`, `!Invalid key`},
		{`{"\u0000":1}`, `!control`},
		{`{".priority":1,"a":2}`, `!priorities are not supported`},
		{`{".value":1}`, `!priorities are not supported`},
		{`{"$key":1}`, `!Invalid key`},

		// Server values.
		{`{".sv":"timestamp"}`, `{".sv":"timestamp"}`},
		{`{"a":{".sv":{"increment":2}},"b":1}`, `{"a":{".sv":{"increment":2}},"b":1}`},
		{`[{".sv":"timestamp"}]`, `[{".sv":"timestamp"}]`},
		{`{".sv":"timestamp","a":1}`, `!must be the only key`},
		{`{"a":1,".sv":"timestamp"}`, `!must be the only key`},
		{`{".sv":1,".sv":2}`, `!must be the only key`},
	}
	for _, tt := range tests {
		n, err := Parse([]byte(tt.in), Limits{})
		if want, ok := strings.CutPrefix(tt.want, "!"); ok {
			wantError(t, "Parse("+tt.in+")", err, want)
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.in, err)
			continue
		}
		if got := js(n); got != tt.want {
			t.Errorf("Parse(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func nested(levels int, leaf string) string {
	return strings.Repeat(`{"a":`, levels) + leaf + strings.Repeat(`}`, levels)
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want string // error text; "" for none
	}{
		{"32 levels", nested(32, "1"), Limits{}, ""},
		{"33 levels", nested(33, "1"), Limits{}, "nested deeper than 32 levels"},
		{"33 levels of arrays", strings.Repeat("[", 33) + "1" + strings.Repeat("]", 33), Limits{}, "nested deeper"},
		{"a server value at level 33 is a leaf at 32", nested(32, `{".sv":{"increment":1}}`), Limits{}, ""},
		{"not a server value at level 33", nested(32, `{"b":1}`), Limits{}, "nested deeper"},
		{"own depth", nested(4, "1"), Limits{MaxDepth: 3}, "deeper than 3 levels"},
		{"100,000 brackets", strings.Repeat("[", 100_000), Limits{}, "nested deeper"},
		{"100,000 objects", strings.Repeat(`{"a":`, 100_000), Limits{}, "nested deeper"},
		{"deep inside a server value", nested(31, `{".sv":`+nested(10, "1")+`}`), Limits{}, "nested deeper"},
		{"at MaxBytes", `"` + strings.Repeat("x", 98) + `"`, Limits{MaxBytes: 100}, ""},
		{"over MaxBytes", `"` + strings.Repeat("x", 99) + `"`, Limits{MaxBytes: 100}, "exceeds the maximum size"},
		{"over 16 MiB", `"` + strings.Repeat("x", 16<<20) + `"`, Limits{}, "exceeds the maximum size"},
	}
	for _, tt := range tests {
		start := time.Now()
		_, err := Parse([]byte(tt.in), tt.lim)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		} else {
			wantError(t, tt.name, err, tt.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v", tt.name, d)
		}
	}
}

func TestParseLarge(t *testing.T) {
	// A body of 10 MiB: 100,000 objects of a 100-byte string.
	var b strings.Builder
	b.WriteString("{")
	for i := range 100_000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%06d":{"v":"%s"}`, i, strings.Repeat("x", 90))
	}
	b.WriteString("}")
	n, err := Parse([]byte(b.String()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Len() != 100_000 || n.Count() != 200_001 {
		t.Errorf("Len %d, Count %d; want 100000, 200001", n.Len(), n.Count())
	}
	if got := js(n.Child("k099999").Child("v")); len(got) != 92 {
		t.Errorf("last child's value: %s", got)
	}
}

func TestParseUpdate(t *testing.T) {
	tests := []struct {
		in   string
		want string // changes as rel=json; or "!error"
	}{
		{`{}`, ``},
		{` { } `, ``},
		{`{"a":1}`, `/a=1`},
		{`{"b":{"c":true},"a/x/y":null,"/c/":"s"}`, `/a/x/y=null /b={"c":true} /c="s"`},
		{`{"10":1,"9":2,"a":3}`, `/9=2 /10=1 /a=3`},
		{`{"a":{".sv":"timestamp"}}`, `/a={".sv":"timestamp"}`},
		{`{"a":1,"a/b":2}`, `!Path "/a" is an ancestor of "/a/b"`},
		{`{"a/b/c":1,"a":2}`, `!Path "/a" is an ancestor of "/a/b/c"`},
		{`{"a":1,"/a/":2}`, `!appears twice`},
		{`{"a":1,"a":2}`, `!appears twice`},
		{`{"ab":1,"a":2,"a/c":3}`, `!ancestor`},
		{`{"":1}`, `!must name a path`},
		{`{"/":1}`, `!must name a path`},
		{`{"a.b":1}`, `!Invalid key "a.b"`},
		{`{"a/.priority":1}`, `!priorities are not supported`},
		{`{"a/../b":1}`, `!".." segments`},
		{`{"a":{"b.c":1}}`, `!Invalid key "b.c"`},
		{`[1]`, `!must be a JSON object`},
		{`1`, `!must be a JSON object`},
		{`null`, `!must be a JSON object`},
		{``, `!must be a JSON object`},
		{`{"a":1`, `!couldn't parse`},
		{`{"a":1,}`, `!couldn't parse`},
		{`{"a":1} x`, `!couldn't parse`},
		{`{"a" 1}`, `!couldn't parse`},
		{`{a:1}`, `!couldn't parse`},
		{`{"` + strings.Repeat("a/", 32) + `b":1}`, `!nested deeper`},
		{`{"` + strings.Repeat("a/", 31) + `b":1}`, `/` + strings.Repeat("a/", 31) + `b=1`},
		{`{"` + strings.Repeat("a/", 30) + `b":{"c":1}}`, `/` + strings.Repeat("a/", 30) + `b={"c":1}`},
		{`{"` + strings.Repeat("a/", 30) + `b":{"c":{"d":1}}}`, `!nested deeper`},
	}
	for _, tt := range tests {
		changes, err := ParseUpdate([]byte(tt.in), Limits{})
		if want, ok := strings.CutPrefix(tt.want, "!"); ok {
			wantError(t, "ParseUpdate("+tt.in+")", err, want)
			continue
		}
		if err != nil {
			t.Errorf("ParseUpdate(%s): %v", tt.in, err)
			continue
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Rel.String()+"="+js(c.Value))
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("ParseUpdate(%s) = %s, want %s", tt.in, g, tt.want)
		}
	}
	if _, err := ParseUpdate([]byte(`{"a":"`+strings.Repeat("x", 100)+`"}`), Limits{MaxBytes: 50}); err == nil {
		t.Error("ParseUpdate over MaxBytes: no error")
	}
}

package tree

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		query string
		ok    bool
		err   string
	}{
		{"", false, ""},
		{"print=pretty&shallow=true", false, ""},
		{`orderBy="$key"`, true, ""},
		{`orderBy="$value"&limitToFirst=0`, true, ""},
		{`orderBy="height"&startAt=1&endAt=2.5`, true, ""},
		{`orderBy="a/b"&equalTo="x"`, true, ""},
		{`orderBy="$key"&startAt="a"&endBefore="b"&limitToLast=3`, true, ""},
		{`orderBy="h"&startAfter=null&endAt=true`, true, ""},
		{`orderBy=%22$key%22&startAt=%22a%22`, true, ""},
		{`limitToFirst=1`, true, "orderBy must be defined when other query parameters are defined"},
		{`startAt=1`, true, "orderBy must be defined"},
		{`orderBy=height`, true, "orderBy must be a valid JSON encoded path"},
		{`orderBy=""`, true, "orderBy must be a valid JSON encoded path"},
		{`orderBy="a.b"`, true, "orderBy must be a valid JSON encoded path"},
		{`orderBy="$foo"`, true, "orderBy must be a valid JSON encoded path"},
		{`orderBy=1`, true, "orderBy must be a valid JSON encoded path"},
		{`orderBy="$priority"`, true, "not supported"},
		{`orderBy="$key"&startAt=1`, true, `startAt must be a JSON value: a string when orderBy is "$key"`},
		{`orderBy="$key"&equalTo=null`, true, `equalTo must be a JSON value: a string`},
		{`orderBy="h"&startAt=abc`, true, "startAt must be a JSON value: a string, number, boolean or null"},
		{`orderBy="h"&endAt={}`, true, "endAt must be a JSON value"},
		{`orderBy="h"&endAt=[1]`, true, "endAt must be a JSON value"},
		{`orderBy="h"&equalTo={".sv":"timestamp"}`, true, "equalTo must be a JSON value"},
		{`orderBy="h"&startAt=`, true, "startAt must be a JSON value"},
		{`orderBy="h"&limitToFirst=-1`, true, "limitToFirst must be a non-negative integer"},
		{`orderBy="h"&limitToFirst=+1`, true, "limitToFirst must be a non-negative integer"},
		{`orderBy="h"&limitToLast=1.5`, true, "limitToLast must be a non-negative integer"},
		{`orderBy="h"&limitToLast=99999999999999999999`, true, "limitToLast must be a non-negative integer"},
		{`orderBy="h"&limitToFirst=1&limitToLast=1`, true, "cannot both be defined"},
		{`orderBy="h"&equalTo=1&startAt=1`, true, "equalTo cannot be defined with"},
		{`orderBy="h"&startAt=1&startAfter=1`, true, "startAfter cannot be defined with startAt"},
		{`orderBy="h"&endAt=1&endBefore=1`, true, "endBefore cannot be defined with endAt"},
	}
	for _, tt := range tests {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		_, ok, err := ParseQuery(v)
		if ok != tt.ok {
			t.Errorf("ParseQuery(%s): ok %v", tt.query, ok)
		}
		if tt.err == "" {
			if err != nil {
				t.Errorf("ParseQuery(%s): %v", tt.query, err)
			}
			continue
		}
		wantError(t, "ParseQuery("+tt.query+")", err, tt.err)
	}
}

const dinosaurs = `{
	"lambeosaurus": {"height": 2.1, "length": 12.5, "weight": 5000},
	"stegosaurus": {"height": 4, "length": 9, "weight": 2500},
	"bruhathkayosaurus": {"appeared": -70000000, "height": 25, "length": 44, "weight": 135000},
	"linhenykus": {"height": 0.6, "length": 1, "weight": 3},
	"pterodactyl": {"height": 0.6, "length": 0.8, "weight": 2},
	"triceratops": {"height": 3, "length": 8, "weight": 11000},
	"unknown": "no data"
}`

func query(t *testing.T, n *Node, q string) *Node {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	parsed, ok, err := ParseQuery(v)
	if err != nil || !ok {
		t.Fatalf("ParseQuery(%s): %v, %v", q, ok, err)
	}
	return n.Query(parsed)
}

func keysOf(n *Node) string {
	var keys []string
	n.Range(func(k string, _ *Node) bool { keys = append(keys, k); return true })
	return strings.Join(keys, " ")
}

func TestQuery(t *testing.T) {
	d := mustParse(t, dinosaurs)
	tests := []struct {
		query string
		want  string // the selected keys, in key order
	}{
		{`orderBy="height"`, "bruhathkayosaurus lambeosaurus linhenykus pterodactyl stegosaurus triceratops unknown"},
		{`orderBy="height"&limitToFirst=2`, "linhenykus unknown"},
		{`orderBy="height"&limitToFirst=3`, "linhenykus pterodactyl unknown"},
		{`orderBy="height"&limitToLast=2`, "bruhathkayosaurus stegosaurus"},
		{`orderBy="height"&startAt=3`, "bruhathkayosaurus stegosaurus triceratops"},
		{`orderBy="height"&startAfter=3`, "bruhathkayosaurus stegosaurus"},
		{`orderBy="height"&endAt=0.6`, "linhenykus pterodactyl unknown"},
		{`orderBy="height"&endBefore=0.6`, "unknown"},
		{`orderBy="height"&equalTo=0.6`, "linhenykus pterodactyl"},
		{`orderBy="height"&startAt=2&endAt=4`, "lambeosaurus stegosaurus triceratops"},
		{`orderBy="height"&startAt=2&endAt=4&limitToFirst=1`, "lambeosaurus"},
		{`orderBy="height"&startAt=2&endAt=4&limitToLast=1`, "stegosaurus"},
		{`orderBy="height"&startAt="a"`, ""},
		{`orderBy="height"&endAt=null`, "unknown"},
		{`orderBy="appeared"&equalTo=null`, "lambeosaurus linhenykus pterodactyl stegosaurus triceratops unknown"},
		{`orderBy="height"&limitToFirst=0`, ""},
		{`orderBy="height"&limitToFirst=100`, "bruhathkayosaurus lambeosaurus linhenykus pterodactyl stegosaurus triceratops unknown"},
		{`orderBy="$key"&startAt="p"`, "pterodactyl stegosaurus triceratops unknown"},
		{`orderBy="$key"&startAt="pterodactyl"&endAt="t"`, "pterodactyl stegosaurus"},
		{`orderBy="$key"&startAfter="pterodactyl"&endBefore="triceratops"`, "stegosaurus"},
		{`orderBy="$key"&limitToLast=2`, "triceratops unknown"},
		{`orderBy="$key"&endBefore="unknown"&limitToLast=2`, "stegosaurus triceratops"},
		{`orderBy="$key"&startAt="b"&limitToFirst=2`, "bruhathkayosaurus lambeosaurus"},
		{`orderBy="$key"&equalTo="linhenykus"`, "linhenykus"},
		{`orderBy="$key"&equalTo="nobody"`, ""},
		{`orderBy="$value"&limitToFirst=1`, "unknown"},
		{`orderBy="$value"&startAt="a"&endAt="z"`, "unknown"},
		{`orderBy="weight"&startAt=3&endAt=5000`, "lambeosaurus linhenykus stegosaurus"},
	}
	for _, tt := range tests {
		got := query(t, d, tt.query)
		if keysOf(got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.query, keysOf(got), tt.want)
		}
		if tt.want == "" && got != nil {
			t.Errorf("%s: empty selection is not null", tt.query)
		}
	}
	if got := query(t, d, `orderBy="height"`); got != d {
		t.Error("a query that selects every child copied the object")
	}
	if query(t, d.Child("unknown"), `orderBy="$key"`) != nil || query(t, nil, `orderBy="$key"`) != nil {
		t.Error("a query of a leaf or null is not null")
	}
	if d.Query(Query{}) != d {
		t.Error("the zero Query does not select everything")
	}
}

// sortOrder reads the order a query sorts children in from the selections of
// limitToFirst=1, 2, ...: each adds the next child.
func sortOrder(t *testing.T, n *Node, q string) string {
	var got []string
	for i := 1; i <= n.Len(); i++ {
		sel := query(t, n, q+"&limitToFirst="+strconv.Itoa(i))
		var added []string
		sel.Range(func(k string, _ *Node) bool {
			if !slices.Contains(got, k) {
				added = append(added, k)
			}
			return true
		})
		if len(added) != 1 {
			t.Fatalf("%s&limitToFirst=%d added %v", q, i, added)
		}
		got = append(got, added[0])
	}
	return strings.Join(got, " ")
}

func TestQueryOrder(t *testing.T) {
	mixed := mustParse(t, `{"k1":"b","k2":1,"k3":true,"k4":false,"k5":{"x":1},"k6":"a","k7":-3,"k8":1,"k9":"B","k0":{"a":0}}`)
	if got, want := sortOrder(t, mixed, `orderBy="$value"`), "k4 k3 k7 k2 k8 k9 k6 k1 k0 k5"; got != want {
		t.Errorf("by value: %s, want %s", got, want)
	}
	byChild := mustParse(t, `{"a":{"v":2},"b":{"w":1},"c":{"v":"s"},"d":{"v":{"x":1}},"e":{"v":false},"f":3,"g":{"v":-1}}`)
	if got, want := sortOrder(t, byChild, `orderBy="v"`), "b f e g a c d"; got != want {
		t.Errorf("by child: %s, want %s", got, want)
	}
	keys := mustParse(t, `{"10":1,"9":1,"-1":1,"a":1,"01":1,"1":1,"2147483648":1,"B":1}`)
	if got, want := sortOrder(t, keys, `orderBy="$key"`), "-1 1 01 9 10 2147483648 B a"; got != want {
		t.Errorf("by key: %s, want %s", got, want)
	}
	if got := keysOf(query(t, keys, `orderBy="$key"&startAt="1"&endAt="9"`)); got != "1 01 9" {
		t.Errorf("integer keys between 1 and 9: %s", got)
	}
	if got := keysOf(query(t, keys, `orderBy="$key"&startAt="2"&endAt="9"`)); got != "9" {
		t.Errorf("integer keys between 2 and 9: %s", got)
	}
	deep := mustParse(t, `{"x":{"a":{"b":2}},"y":{"a":{"b":1}},"z":{"a":1}}`)
	if got, want := sortOrder(t, deep, `orderBy="a/b"`), "z y x"; got != want {
		t.Errorf("by a child path: %s, want %s", got, want)
	}
}

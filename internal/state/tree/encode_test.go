package tree

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestArrayRendering(t *testing.T) {
	// Firebase's rule, from its docs and SDKs: all keys indices, and the
	// largest less than twice their number.
	tests := []struct{ in, want string }{
		{`["hello","world"]`, `["hello","world"]`},
		{`["a","b","c","d","e"]`, `["a","b","c","d","e"]`},
		{`{"0":"a","1":"b","2":"c","3":"d","4":"e"}`, `["a","b","c","d","e"]`},
		// "if we then delete a, b, and d, they are no longer mostly
		// sequential, so we do not get back an array"
		{`{"2":"c","4":"e"}`, `{"2":"c","4":"e"}`},
		{`{"1":"b"}`, `[null,"b"]`},
		{`{"1":"a","2":"b","3":"c"}`, `[null,"a","b","c"]`},
		{`{"0":"a","2":"c"}`, `["a",null,"c"]`},
		{`{"0":1,"3":1}`, `[1,null,null,1]`},
		{`{"0":1,"4":1}`, `{"0":1,"4":1}`},
		{`{"0":1,"2":1,"3":1}`, `[1,null,1,1]`},
		{`{"2":1}`, `{"2":1}`},
		{`{"0":1}`, `[1]`},
		{`{"0":1,"a":2}`, `{"0":1,"a":2}`},
		{`{"00":1}`, `{"00":1}`},
		{`{"0":1,"01":2}`, `{"0":1,"01":2}`},
		{`{"-1":1,"0":1,"1":1}`, `{"-1":1,"0":1,"1":1}`},
		{`{"0":1,"1":1,"3000000000":1}`, `{"0":1,"1":1,"3000000000":1}`},
		{`{"a":[[1,2],{"0":[3]}]}`, `{"a":[[1,2],[[3]]]}`},
	}
	for _, tt := range tests {
		if got := js(mustParse(t, tt.in)); got != tt.want {
			t.Errorf("%s renders as %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	n := mustParse(t, `{"message":{"user":{"name":"Chris"},"body":"Hello!","tags":["a",{"b":1}],"n":[]}}`)
	tests := []struct {
		name string
		n    *Node
		f    Format
		want string
	}{
		{"compact", n, Format{}, `{"message":{"body":"Hello!","tags":["a",{"b":1}],"user":{"name":"Chris"}}}`},
		{"pretty", n, Format{Pretty: true}, `{
  "message" : {
    "body" : "Hello!",
    "tags" : [ "a", {
      "b" : 1
    } ],
    "user" : {
      "name" : "Chris"
    }
  }
}`},
		{"shallow", n.Child("message"), Format{Shallow: true}, `{"body":true,"tags":true,"user":true}`},
		{"shallow pretty", n.Child("message"), Format{Shallow: true, Pretty: true}, "{\n  \"body\" : true,\n  \"tags\" : true,\n  \"user\" : true\n}"},
		{"shallow array", mustParse(t, `[1,2]`), Format{Shallow: true}, `{"0":true,"1":true}`},
		{"shallow leaf", String("x"), Format{Shallow: true}, `"x"`},
		{"shallow null", nil, Format{Shallow: true}, `null`},
		{"pretty leaf", Number(1.5), Format{Pretty: true}, `1.5`},
		{"pretty null", nil, Format{Pretty: true}, `null`},
		{"pretty array of arrays", mustParse(t, `[[1,2],[3]]`), Format{Pretty: true}, `[ [ 1, 2 ], [ 3 ] ]`},
		{"pretty server value", mustParse(t, `{"a":{".sv":"timestamp"}}`), Format{Pretty: true}, "{\n  \"a\" : {\n    \".sv\" : \"timestamp\"\n  }\n}"},
	}
	for _, tt := range tests {
		got := string(tt.n.AppendJSON(nil, tt.f))
		if got != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, got, tt.want)
		}
		var buf bytes.Buffer
		if err := tt.n.WriteJSON(&buf, tt.f); err != nil || buf.String() != got {
			t.Errorf("%s: WriteJSON = %q, %v; AppendJSON = %q", tt.name, buf.String(), err, got)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: not valid JSON: %s", tt.name, got)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"<&>", `"<&>"`},
		{"é😀\u2028", "\"é😀\u2028\""},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, tt := range tests {
		got := js(String(tt.in))
		if got != tt.want {
			t.Errorf("String(%q) renders as %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || (back != tt.in && !strings.Contains(tt.in, "\xff")) {
			t.Errorf("String(%q) reads back as %q, %v", tt.in, back, err)
		}
	}
}

func TestNumbers(t *testing.T) {
	// As JavaScript's Number.prototype.toString writes them (checked
	// against node for 60,000 numbers when this was written).
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{-1, "-1"},
		{0.1, "0.1"},
		{1.5e-7, "1.5e-7"},
		{0.000001, "0.000001"},
		{123e-20, "1.23e-18"},
		{1e15, "1000000000000000"},
		{9007199254740992, "9007199254740992"},
		{-9007199254740992, "-9007199254740992"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{2147483647, "2147483647"},
		{-1234.5678, "-1234.5678"},
	}
	for _, tt := range tests {
		if got := string(appendNumber(nil, tt.f)); got != tt.want {
			t.Errorf("appendNumber(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

type chunkRecorder struct {
	chunks int
	bytes.Buffer
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks++
	return c.Buffer.Write(p)
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("broken pipe")
}

func TestWriteJSONStreamsInChunks(t *testing.T) {
	n := bigTree(100_000)
	var rec chunkRecorder
	if err := n.WriteJSON(&rec, Format{}); err != nil {
		t.Fatal(err)
	}
	if rec.String() != js(n) {
		t.Error("WriteJSON differs from AppendJSON")
	}
	if want := rec.Len() / chunkSize; rec.chunks < want {
		t.Errorf("%d bytes in %d writes; want chunks of about %d", rec.Len(), rec.chunks, chunkSize)
	}
	fw := &failingWriter{}
	if err := n.WriteJSON(fw, Format{}); err == nil || fw.n != 1 {
		t.Errorf("WriteJSON to a failing writer: %v after %d writes", err, fw.n)
	}
}

// bigTree returns an object of about size nodes: size/10 children of
// 9 fields each.
func bigTree(size int) *Node {
	var b strings.Builder
	b.WriteString("{")
	for i := range size / 10 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + key(i) + `":{"name":"user ` + key(i) + `","age":42,"admin":false,"score":3.25,"tags":["a","b"],"city":"Paris","zip":"75001"}`)
	}
	b.WriteString("}")
	n, err := Parse([]byte(b.String()), Limits{})
	if err != nil {
		panic(err)
	}
	return n
}

func TestETag(t *testing.T) {
	if got := (*Node)(nil).ETag(); got != "null_etag" {
		t.Errorf("ETag of null = %q", got)
	}
	n := mustParse(t, `{"b":[1,2],"a":"x"}`)
	sum := sha1.Sum([]byte(`{"a":"x","b":[1,2]}`))
	want := base64.StdEncoding.EncodeToString(sum[:])
	if got := n.ETag(); got != want {
		t.Errorf("ETag = %s, want %s", got, want)
	}
	if n.ETag() != want {
		t.Error("ETag changed on a second call")
	}
	same := mustParse(t, `{"a":"x","b":{"0":1,"1":2}}`)
	other := n.Set(Path{"a"}, String("y"))
	if same.ETag() != want || other.ETag() == want || n.ETag() != want {
		t.Error("ETags do not follow values")
	}
}

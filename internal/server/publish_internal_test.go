package server

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestParseFormAsParseQuery checks the publish form parser against
// url.ParseQuery, the parser it stands in for: the same fields from every
// form, and an error for every form ParseQuery refuses.
func TestParseFormAsParseQuery(t *testing.T) {
	for _, body := range []string{
		"", "&&", "topic=a", "topic=a&topic=b&data=x", "data=a+b%20c%2B&id=%41",
		"topic=https%3A%2F%2Fexample.com%2Fa&data=step%3D1%2Cseq%3D2",
		"data", "data=", "=x", "other=%zz", "data=%zz", "data=%4", "data=%", "topic=%G1",
		"topic=a;data=b", "a;b", "data=1&data=2", "id=1&id=1", "private=on&retry=10&type=t",
		"d%61ta=x", "data=%00%ff", "topic=a&topic=&topic",
		"topic=a" + strings.Repeat("&", 9999), "topic=a" + strings.Repeat("&", 10000),
	} {
		f, err := parseForm([]byte(body))
		want, wantErr := url.ParseQuery(body)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, url.ParseQuery %v", body, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !slices.Equal(f.topics, want["topic"]) {
			t.Errorf("%q: topics %q, want %q", body, f.topics, want["topic"])
		}
		if !bytes.Equal(f.data, []byte(want.Get("data"))) {
			t.Errorf("%q: data %q, want %q", body, f.data, want.Get("data"))
		}
		for name, got := range map[string]string{"id": f.id, "type": f.typ, "retry": f.retry, "private": f.private} {
			if got != want.Get(name) {
				t.Errorf("%q: %s %q, want %q", body, name, got, want.Get(name))
			}
		}
		twice := ""
		for _, name := range []string{"data", "id", "type", "retry", "private"} {
			if len(want[name]) > 1 && twice == "" {
				twice = name
			}
		}
		if (f.twice == "") != (twice == "") {
			t.Errorf("%q: given twice %q, want %q", body, f.twice, twice)
		}
	}
}

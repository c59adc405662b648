package bench

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendUnquotedAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `{"step":1,"seq":2,"sent":3}`, "tab\there\nline\\slash/", "<&> escaped by json.Marshal",
		"é and 😀 (a surrogate pair when escaped)", "\x01\x1f control",
	} {
		quoted, _ := json.Marshal(s)
		got, ok := appendUnquoted(nil, quoted)
		if !ok || string(got) != s {
			t.Errorf("appendUnquoted(%s) = %q, %v; want %q", quoted, got, ok, s)
		}
		if back := appendQuoted(nil, []byte(s)); !json.Valid(back) {
			t.Errorf("appendQuoted(%q) = %s, not JSON", s, back)
		} else {
			var dec string
			json.Unmarshal(back, &dec)
			if dec != s {
				t.Errorf("appendQuoted(%q) decodes to %q", s, dec)
			}
		}
	}
	for _, bad := range []string{`"\"`, `"\x"`, `"\u12"`, `noquotes`, `"`} {
		if _, ok := appendUnquoted(nil, []byte(bad)); ok {
			t.Errorf("appendUnquoted(%s) accepted", bad)
		}
	}
	// An escaped surrogate pair is one character.
	if got, _ := appendUnquoted(nil, []byte(`"\ud83d\ude00"`)); string(got) != "😀" {
		t.Errorf("surrogate pair unquoted to %q", got)
	}
}

// A poll answer is walked member by member, whatever their order, spacing
// or unknown members, and the events' objects element by element.
func TestObjectMembersWalksAPollAnswer(t *testing.T) {
	answer := `{ "maxWait": 30, "events": [ {"id":"a","topics":["t,]}"],"data":"{\"x\":[1]}","retry":5},` +
		`{"type":"t","id":"b","data":""} ], "more": true, "lastEventID": "b", "extra": {"nested": [1, {"y": "}"}]} }`
	m := objectMembers([]byte(answer))
	got := map[string]string{}
	for k, v, ok := m.next(); ok; k, v, ok = m.next() {
		got[string(k)] = string(v)
	}
	if m.bad || len(got) != 5 || got["lastEventID"] != `"b"` || got["more"] != "true" || got["maxWait"] != "30" {
		t.Fatalf("members %q (bad %v)", got, m.bad)
	}
	var ids, data []string
	e := arrayElements([]byte(got["events"]))
	for ev, ok := e.next(); ok; ev, ok = e.next() {
		m := objectMembers(ev)
		for k, v, ok := m.next(); ok; k, v, ok = m.next() {
			s, _ := appendUnquoted(nil, v)
			switch string(k) {
			case "id":
				ids = append(ids, string(s))
			case "data":
				data = append(data, string(s))
			}
		}
	}
	if e.bad || strings.Join(ids, " ") != "a b" || len(data) != 2 || data[0] != `{"x":[1]}` || data[1] != "" {
		t.Errorf("events: ids %q, data %q (bad %v)", ids, data, e.bad)
	}
}

func TestObjectMembersRefusesMalformedInput(t *testing.T) {
	for _, bad := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x`, `{"a":1 "b":2}`, `{"a":[1,2}`} {
		m := objectMembers([]byte(bad))
		for _, _, ok := m.next(); ok; _, _, ok = m.next() {
		}
		if !m.bad {
			t.Errorf("objectMembers(%q) not bad", bad)
		}
	}
	if m := objectMembers([]byte(`{}`)); m.bad {
		t.Errorf("{} is an object")
	}
}

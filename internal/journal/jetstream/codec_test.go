package jetstream

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"", ""},
		{"https://example.com/books/1", "https://example.com/books/1"},
		{"publisher-chosen/ünïcode id", "publisher-chosen/ünïcode%20id"},
		{" padded ", "%20padded%20"},
		{"100%", "100%25"},
		{"%41", "%2541"},
		{"line\r\nbreak", "line%0D%0Abreak"},
		{"nul\x00tab\tdel\x7f", "nul%00tab%09del%7F"},
		{"\xff not UTF-8", "\xff%20not%20UTF-8"},
	} {
		if got := escape(tc.in); got != tc.out {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.out)
		}
		if back, err := unescape(tc.out); err != nil || back != tc.in {
			t.Errorf("unescape(%q) = %q, %v; want %q", tc.out, back, err, tc.in)
		}
	}
	for _, bad := range []string{"%", "%4", "%G1", "a%zz"} {
		if got, err := unescape(bad); !errors.Is(err, errNotEvent) {
			t.Errorf("unescape(%q) = %q, %v; want errNotEvent", bad, got, err)
		}
	}
}

// TestEncodeDecode checks that an event survives its message, headers
// included, through a NATS server: nats.go trims the spaces around a
// header value and replaces line breaks, which escape must undo.
func TestEncodeDecode(t *testing.T) {
	nc := natstest.Connect(t, natstest.Run(t).URL())
	sub, err := nc.SubscribeSync("herald.>")
	if err != nil {
		t.Fatal(err)
	}
	subj := subjects{prefix: "herald"}
	at := time.Unix(0, 1_700_000_000_123_456_789)
	for _, ev := range []*journal.Event{
		{Topics: []string{"https://example.com/books/1"}, Data: []byte("hello")},
		{
			ID:      " ünïcode id\r\n",
			Topics:  []string{"a", "", " b", "%"},
			Type:    "book.updated",
			Data:    []byte("line 1\nline 2\r\n\x00\xff"),
			Retry:   1500 * time.Millisecond,
			Private: true,
		},
		{Type: "no topic", Retry: time.Nanosecond},
	} {
		msg := encode(subj, ev, nil, "epoch", "pub", at)
		wantSubject := subj.event()
		if ev.ID != "" {
			wantSubject = subj.id(ev.ID)
		}
		if msg.Subject != wantSubject {
			t.Fatalf("subject %q, want %q", msg.Subject, wantSubject)
		}
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		back, err := sub.NextMsg(testutil.WaitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(7, back.Header, back.Data)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		want := *ev
		want.Seq, want.Time = 7, at
		if want.ID == "" {
			want.ID = journal.FormatID("epoch", 7)
		}
		if got.Seq != want.Seq || got.ID != want.ID || !slices.Equal(got.Topics, want.Topics) || got.Type != want.Type ||
			string(got.Data) != string(want.Data) || got.Retry != want.Retry || got.Private != want.Private || !got.Time.Equal(want.Time) {
			t.Fatalf("decoded %+v\nwant    %+v", got, want)
		}
	}
}

func TestDecodeNotEvent(t *testing.T) {
	for name, h := range map[string]nats.Header{
		"no headers":  {},
		"no epoch":    {hdrTime: {"1"}},
		"no time":     {hdrEpoch: {"e"}},
		"bad time":    {hdrEpoch: {"e"}, hdrTime: {"soon"}},
		"bad escape":  {hdrEpoch: {"e"}, hdrTime: {"1"}, hdrTopic: {"%zz"}},
		"bad retry":   {hdrEpoch: {"e"}, hdrTime: {"1"}, hdrRetry: {"1s"}},
		"bad ID code": {hdrEpoch: {"e"}, hdrTime: {"1"}, hdrID: {"%"}},
	} {
		if ev, err := decode(1, h, nil); err == nil {
			t.Errorf("%s: decoded %+v", name, ev)
		}
	}
}

// TestIDSubject checks that every ID, whatever it holds, has a subject of
// fixed length with one token of subject-safe characters.
func TestIDSubject(t *testing.T) {
	subj := subjects{prefix: "herald"}
	token := regexp.MustCompile(`^herald\.id\.[A-Za-z0-9_-]{43}$`)
	seen := make(map[string]string)
	for _, id := range []string{"a", "A", "a b", "a.b", "*", ">", string(make([]byte, 4096)), "ünïcode"} {
		s := subj.id(id)
		if !token.MatchString(s) {
			t.Errorf("subject of %q = %q", id, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("IDs %q and %q share subject %q", id, other, s)
		}
		seen[s] = id
	}
}

package sse_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/sse"
)

func TestEventAppendTo(t *testing.T) {
	tests := []struct {
		name string
		ev   sse.Event
		want string
	}{
		{"data", sse.Event{Data: []byte("hello")}, "data: hello\n\n"},
		{"empty data still dispatches", sse.Event{}, "data:\n\n"},
		{"all fields", sse.Event{ID: "1", Type: "add", Retry: 1500 * time.Millisecond, Data: []byte("a")},
			"id: 1\nevent: add\nretry: 1500\ndata: a\n\n"},
		{"LF", sse.Event{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{"CRLF", sse.Event{Data: []byte("a\r\nb")}, "data: a\ndata: b\n\n"},
		{"CR", sse.Event{Data: []byte("a\rb")}, "data: a\ndata: b\n\n"},
		{"CR CR LF", sse.Event{Data: []byte("a\r\r\nb")}, "data: a\ndata:\ndata: b\n\n"},
		{"trailing LF", sse.Event{Data: []byte("a\n")}, "data: a\ndata:\n\n"},
		{"only LF", sse.Event{Data: []byte("\n")}, "data:\ndata:\n\n"},
		{"only CR", sse.Event{Data: []byte("\r")}, "data:\ndata:\n\n"},
		{"leading space kept", sse.Event{Data: []byte(" a")}, "data:  a\n\n"},
		{"colon in data", sse.Event{Data: []byte("a: b")}, "data: a: b\n\n"},
		{"NUL in data", sse.Event{Data: []byte("a\x00b")}, "data: a\x00b\n\n"},
		{"ID with leading space", sse.Event{ID: " x", Data: []byte("a")}, "id:  x\ndata: a\n\n"},
		{"ID with colon", sse.Event{ID: "urn:herald:e:1", Data: []byte("a")}, "id: urn:herald:e:1\ndata: a\n\n"},
		{"retry rounded up", sse.Event{Retry: time.Nanosecond}, "retry: 1\ndata:\n\n"},
		{"retry max", sse.Event{Retry: math.MaxInt64}, "retry: 9223372036855\ndata:\n\n"},
		{"negative retry omitted", sse.Event{Retry: -time.Second}, "data:\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.AppendTo([]byte("prefix"))
			if err != nil || string(got) != "prefix"+tt.want {
				t.Fatalf("AppendTo = %q, %v; want %q", got, err, "prefix"+tt.want)
			}
			text, err := tt.ev.MarshalText()
			if err != nil || string(text) != tt.want {
				t.Fatalf("MarshalText = %q, %v; want %q", text, err, tt.want)
			}
		})
	}
}

func TestEventInvalidField(t *testing.T) {
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", "\n", "a\r\n"} {
		for _, tt := range []struct {
			ev    sse.Event
			field string
		}{
			{sse.Event{ID: bad, Data: []byte("x")}, "id"},
			{sse.Event{Type: bad, Data: []byte("x")}, "event type"},
		} {
			dst := []byte("keep")
			got, err := tt.ev.AppendTo(dst)
			if !errors.Is(err, sse.ErrInvalidField) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("%s %q: error %v, want ErrInvalidField naming %q", tt.field, bad, err, tt.field)
			}
			if string(got) != "keep" {
				t.Errorf("%s %q: dst became %q", tt.field, bad, got)
			}
			if _, err := tt.ev.MarshalText(); !errors.Is(err, sse.ErrInvalidField) {
				t.Errorf("%s %q: MarshalText error %v", tt.field, bad, err)
			}
		}
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct{ text, want string }{
		{"", ":\n"},
		{"ping", ": ping\n"},
		{" x", ":  x\n"},
		{"a\nb", ": a\n: b\n"},
		{"a\r\nb\rc", ": a\n: b\n: c\n"},
		{"a\n", ": a\n:\n"},
		{"a\r\r\nb", ": a\n:\n: b\n"},
	}
	for _, tt := range tests {
		got := sse.AppendComment([]byte("x"), tt.text)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tt.text, got, "x"+tt.want)
		}
		// A decoder reads back every line of the text, and no event.
		d := sse.NewDecoder(strings.NewReader(tt.want + "\n"))
		res := decodeAll(d)
		wantLines := strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(tt.text), "\n")
		if len(res.Events) != 0 || !reflect.DeepEqual(res.Comments, wantLines) {
			t.Errorf("decoding comment %q: got %+v, want comments %q", tt.text, res, wantLines)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	frame := sse.AppendRetry(nil, 2500*time.Millisecond)
	if string(frame) != "retry: 2500\n\n" {
		t.Fatalf("AppendRetry = %q", frame)
	}
	got := decodeAll(sse.NewDecoder(bytes.NewReader(frame)))
	if len(got.Events) != 0 || got.Retry != 2500*time.Millisecond {
		t.Fatalf("decoded %+v; want no event and retry 2.5s", got)
	}
	if frame := sse.AppendRetry(nil, -1); string(frame) != "retry: 0\n\n" {
		t.Fatalf("AppendRetry(-1) = %q", frame)
	}
}

// AppendControl sets the client's last event ID (and retry) without an
// event: a decoder reports no event, and its last event ID is the id.
func TestAppendControl(t *testing.T) {
	for _, c := range []struct {
		id    string
		retry time.Duration
		want  string
	}{
		{"42", 1500 * time.Millisecond, "retry: 1500\nid: 42\n\n"},
		{"urn:herald:e:7", 0, "id: urn:herald:e:7\n\n"},
		{"", 3 * time.Second, "retry: 3000\n\n"},
		{"", 0, ""}, // a lone blank line would reset the client's ID
	} {
		frame, err := sse.AppendControl(nil, c.id, c.retry)
		if err != nil || string(frame) != c.want {
			t.Fatalf("AppendControl(%q, %v) = %q, %v; want %q", c.id, c.retry, frame, err, c.want)
		}
		dec := sse.NewDecoder(bytes.NewReader(append(frame, "data: x\n\n"...)))
		ev, err := dec.Next()
		if err != nil || string(ev.Data) != "x" || ev.ID != c.id {
			t.Errorf("after %q the next event is %+v (%v), want data x with last event ID %q", frame, ev, err, c.id)
		}
	}
	if _, err := sse.AppendControl(nil, "a\nb", 0); !errors.Is(err, sse.ErrInvalidField) {
		t.Fatalf("an id with LF: %v, want ErrInvalidField", err)
	}
}

// TestEventRoundTrip decodes what AppendTo wrote, with the line endings of
// Data normalised to LF and the ID carried over from earlier events, as a
// client sees it.
func TestEventRoundTrip(t *testing.T) {
	in := []sse.Event{
		{ID: "1", Type: "add", Data: []byte("first\r\nsecond\rthird\n"), Retry: 3 * time.Second},
		{Data: []byte("")},
		{ID: " spaced ", Type: " t", Data: []byte("  two spaces")},
		{Data: []byte("\n\n")},
		{ID: "é", Data: []byte("ü")},
	}
	want := []event{
		{ID: "1", Type: "add", Data: "first\nsecond\nthird\n", Retry: 3 * time.Second},
		{ID: "1", Data: ""},
		{ID: " spaced ", Type: " t", Data: "  two spaces"},
		{ID: " spaced ", Data: "\n\n"},
		{ID: "é", Data: "ü"},
	}
	var stream []byte
	for _, ev := range in {
		var err error
		if stream, err = ev.AppendTo(stream); err != nil {
			t.Fatal(err)
		}
	}
	for _, rd := range readers {
		got := decodeAll(sse.NewDecoder(rd.new(stream)))
		if !reflect.DeepEqual(got.Events, want) || got.LastID != "é" || got.Retry != 3*time.Second || got.Err != nil {
			t.Errorf("%s: got %+v\nwant %+v", rd.name, got, want)
		}
	}
}

func TestAppendToDoesNotAllocate(t *testing.T) {
	ev := sse.Event{ID: "urn:herald:e:42", Type: "update", Retry: time.Second, Data: []byte("line one\nline two\r\nline three")}
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = ev.AppendTo(dst[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendTo allocates %v times per event with room in dst", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { dst = sse.AppendComment(dst[:0], "ping") })
	if allocs != 0 {
		t.Errorf("AppendComment allocates %v times with room in dst", allocs)
	}
}

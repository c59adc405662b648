package bench

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"
)

func streamOf(s string) *stream {
	return &stream{body: bufio.NewReaderSize(strings.NewReader(s), 16)}
}

func TestStreamParsesFrames(t *testing.T) {
	long := strings.Repeat("y", 100) // longer than the 16-byte test buffer
	st := streamOf(": a comment\r\n" +
		"retry: 1000\r\n" +
		"id: 1\r\ndata: one\r\n\r\n" +
		"data:two\ndata:  lines\n\n" + // no space after the colon; an extra one kept
		"id: 3\nevent: ping\n\n" + // no data: not dispatched, but the ID sticks
		"data: " + long + "\n\n" +
		"id: bad\x00id\ndata\n\n" + // NUL: the ID is ignored; "data" alone is an empty data line
		"id: 4\ndata: unterminated")
	want := []struct{ id, data string }{
		{"1", "one"},
		{"1", "two\n lines"},
		{"3", long},
		{"3", ""},
	}
	for i, w := range want {
		id, data, err := st.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if string(id) != w.id || string(data) != w.data {
			t.Errorf("event %d = (%q, %q), want (%q, %q)", i, id, data, w.id, w.data)
		}
	}
	if _, _, err := st.next(); !errors.Is(err, errStreamEnded) {
		t.Errorf("after the last complete event: %v, want errStreamEnded (an unterminated event is not dispatched)", err)
	}
}

// feed, the reactor's parser, finds the events next finds, however the
// bytes are cut into reads.
func TestStreamFeedAsNext(t *testing.T) {
	in := ": hi\r\nid: 1\r\ndata: one\r\n\r\ndata:two\ndata:  lines\n\nid: 3\nevent: ping\n\n" +
		"data: " + strings.Repeat("z", 300) + "\n\nid: x\x00y\ndata\n\nid: 4\ndata: cut"
	type event struct{ id, data string }
	var want []event
	st := &stream{body: bufio.NewReaderSize(strings.NewReader(in), 16)}
	for {
		id, data, err := st.next()
		if err != nil {
			break
		}
		want = append(want, event{string(id), string(data)})
	}
	if len(want) != 4 {
		t.Fatalf("next found %d events, want 4", len(want))
	}
	for size := 1; size <= len(in); size++ {
		var got []event
		st := &stream{}
		for rest := in; len(rest) > 0; {
			n := min(size, len(rest))
			if err := st.feed([]byte(rest[:n]), func(id, data []byte) {
				got = append(got, event{string(id), string(data)})
			}); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("reads of %d bytes: %q, want %q", size, got, want)
		}
	}
	long := &stream{}
	if err := long.feed([]byte(strings.Repeat("x", maxLine+1)), func([]byte, []byte) {}); err == nil {
		t.Error("feed took a line longer than maxLine")
	}
}

func TestStreamRefusesEndlessLine(t *testing.T) {
	st := &stream{body: bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", maxLine+100)+"\n"), 4096)}
	if _, _, err := st.next(); err == nil || errors.Is(err, errStreamEnded) {
		t.Errorf("a %d-byte line: %v, want an error about its length", maxLine+100, err)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, size := range []int{0, 10, 200} {
		p := payload{step: 3, seq: 12345, sent: 1712345678901234567}
		b := appendPayload(nil, p, size)
		if len(b) < size {
			t.Errorf("size %d: payload is %d bytes", size, len(b))
		}
		got, ok := parsePayload(b)
		if !ok || got != p {
			t.Errorf("size %d: parsePayload(%s) = %+v, %v; want %+v", size, b, got, ok, p)
		}
	}
}

func TestPayloadRejectsForeignData(t *testing.T) {
	for _, s := range []string{
		"", "hello", `{"seq":1}`, `{"step":1,"seq":2}`, `{"step":1,"seq":2,"sent":3`,
		`{"step":1,"seq":2,"sent":3x}`, `{"step":1,"seq":99999999999999999999999,"sent":3}`,
		`{"step":,"seq":2,"sent":3}`,
	} {
		if p, ok := parsePayload([]byte(s)); ok {
			t.Errorf("parsePayload(%q) = %+v, accepted", s, p)
		}
	}
}

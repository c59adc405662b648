package sse_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/sse"
)

func TestDecoderRules(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		in    string
		want  []event
		extra decoded // LastID, Retry and Comments expected at the end
	}{
		{"empty stream", "", nil, decoded{}},
		{"only blank lines", "\n\r\n\r", nil, decoded{}},
		{"one event", "data: hello\n\n", []event{{Data: "hello"}}, decoded{}},

		// Line endings.
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", []event{{Data: "a\nb"}}, decoded{}},
		{"CR", "data: a\rdata: b\r\r", []event{{Data: "a\nb"}}, decoded{}},
		{"mixed endings", "data: a\r\ndata: b\rdata: c\n\r\n", []event{{Data: "a\nb\nc"}}, decoded{}},
		{"CRLF is one line end", "data: a\r\n", nil, decoded{}},
		{"CR CR is two", "data: a\r\r", []event{{Data: "a"}}, decoded{}},
		{"LF CR is two", "data: a\n\r", []event{{Data: "a"}}, decoded{}},
		{"CR then CRLF", "data: a\r\r\ndata: b\r\n\r\n", []event{{Data: "a"}, {Data: "b"}}, decoded{}},

		// Byte order mark.
		{"BOM skipped", "\xEF\xBB\xBFdata: a\n\n", []event{{Data: "a"}}, decoded{}},
		{"only one BOM skipped", "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", nil, decoded{}},
		{"BOM later is content", "data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n",
			[]event{{Data: "a"}, {Data: "\uFEFFc"}}, decoded{}},
		{"partial BOM is not one", "\xEF\xBB\n\ndata: a\n\n", []event{{Data: "a"}}, decoded{}},

		// Fields.
		{"no space after colon", "data:x\n\n", []event{{Data: "x"}}, decoded{}},
		{"one space removed", "data:  x\n\n", []event{{Data: " x"}}, decoded{}},
		{"tab kept", "data:\tx\n\n", []event{{Data: "\tx"}}, decoded{}},
		{"colon in value", "data: x: y\n\n", []event{{Data: "x: y"}}, decoded{}},
		{"no colon is empty value", "data\n\n", []event{{Data: ""}}, decoded{}},
		{"empty value", "data:\n\n", []event{{Data: ""}}, decoded{}},
		{"two empty data lines", "data\ndata\n\n", []event{{Data: "\n"}}, decoded{}},
		{"one trailing LF removed", "data: a\ndata:\n\n", []event{{Data: "a\n"}}, decoded{}},
		{"space before colon", "data :x\n\ndata: y\n\n", []event{{Data: "y"}}, decoded{}},
		{"names are case-sensitive", "Data: x\nDATA: y\ndata: z\n\n", []event{{Data: "z"}}, decoded{}},
		{"unknown fields ignored", "foo: bar\nretries: 5\ndata: a\nx\n\n", []event{{Data: "a"}}, decoded{}},
		{"NUL in data kept", "data: a\x00b\n\n", []event{{Data: "a\x00b"}}, decoded{}},

		// Comments.
		{"comments", ": hi\n:\n:  two\n:x\ndata: a\n\n", []event{{Data: "a"}},
			decoded{Comments: []string{"hi", "", " two", "x"}}},
		{"comment only block", ": ping\n\n", nil, decoded{Comments: []string{"ping"}}},

		// Event type.
		{"type", "event: add\ndata: 1\n\n", []event{{Type: "add", Data: "1"}}, decoded{}},
		{"type reset after dispatch", "event: add\ndata: 1\n\ndata: 2\n\n",
			[]event{{Type: "add", Data: "1"}, {Data: "2"}}, decoded{}},
		{"type reset by a block without data", "event: add\n\ndata: 2\n\n", []event{{Data: "2"}}, decoded{}},
		{"last type wins", "event: a\nevent: b\ndata: 1\n\n", []event{{Type: "b", Data: "1"}}, decoded{}},
		{"empty type", "event: a\nevent\ndata: 1\n\n", []event{{Data: "1"}}, decoded{}},
		{"type message as sent", "event: message\ndata: 1\n\n", []event{{Type: "message", Data: "1"}}, decoded{}},

		// IDs.
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n",
			[]event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}, decoded{LastID: "1"}},
		{"id after data", "data: a\nid: 7\n\n", []event{{ID: "7", Data: "a"}}, decoded{LastID: "7"}},
		{"empty id resets", "id: 1\ndata: a\n\nid\ndata: b\n\n",
			[]event{{ID: "1", Data: "a"}, {Data: "b"}}, decoded{}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: x\x00y\ndata: b\n\n",
			[]event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}, decoded{LastID: "1"}},
		{"id set without dispatch", "id: 2\n\n", nil, decoded{LastID: "2"}},
		{"id of unfinished event not taken", "id: 1\ndata: a\n\nid: 2\ndata: b\n",
			[]event{{ID: "1", Data: "a"}}, decoded{LastID: "1"}},
		{"id spaces", "id:  x \ndata: a\n\n", []event{{ID: " x ", Data: "a"}}, decoded{LastID: " x "}},

		// Retry.
		{"retry", "retry: 1500\ndata: a\n\n", []event{{Data: "a", Retry: 1500 * ms}}, decoded{Retry: 1500 * ms}},
		{"retry in a block without data", "retry: 500\n\ndata: a\n\n", []event{{Data: "a"}}, decoded{Retry: 500 * ms}},
		{"retry only in its block", "retry: 500\ndata: a\n\ndata: b\n\n",
			[]event{{Data: "a", Retry: 500 * ms}, {Data: "b"}}, decoded{Retry: 500 * ms}},
		{"invalid retries ignored", "retry: 5000\nretry: 1a\nretry: -1\nretry:\nretry\nretry:  7\nretry: +3\nretry: 1.5\ndata: a\n\n",
			[]event{{Data: "a", Retry: 5000 * ms}}, decoded{Retry: 5000 * ms}},
		{"retry zero", "retry: 100\n\nretry: 0\n\n", nil, decoded{}},
		{"retry saturates", "retry: 99999999999999999999999\n\n", nil, decoded{Retry: math.MaxInt64}},
		{"retry of unfinished event taken", "retry: 700\ndata: a\n", nil, decoded{Retry: 700 * ms}},

		// UTF-8.
		{"UTF-8", "data: caf\xC3\xA9 \xF0\x9F\x98\x80\n\n", []event{{Data: "café 😀"}}, decoded{}},
		{"invalid byte", "data: a\xFFb\n\n", []event{{Data: "a\uFFFDb"}}, decoded{}},
		{"truncated sequence is one U+FFFD", "data: \xE2\x82A\n\n", []event{{Data: "\uFFFDA"}}, decoded{}},
		{"sequence cut by line end", "data: \xE2\x82\ndata: x\n\n", []event{{Data: "\uFFFD\nx"}}, decoded{}},
		{"surrogate", "data: \xED\xA0\x80\n\n", []event{{Data: "\uFFFD\uFFFD\uFFFD"}}, decoded{}},
		{"overlong", "data: \xC0\xAF\xE0\x80\xAF\n\n", []event{{Data: strings.Repeat("\uFFFD", 5)}}, decoded{}},
		{"literal U+FFFD", "data: \xEF\xBF\xBD\n\n", []event{{Data: "\uFFFD"}}, decoded{}},
		{"invalid id, type and comment", ":\xFF\nid: \xFF\nevent: \xF4\x90\ndata: a\n\n",
			[]event{{ID: "\uFFFD", Type: "\uFFFD\uFFFD", Data: "a"}},
			decoded{LastID: "\uFFFD", Comments: []string{"\uFFFD"}}},

		// End of stream.
		{"unfinished event discarded", "data: a\n\ndata: b\n", []event{{Data: "a"}}, decoded{}},
		{"unfinished line discarded", "data: a\n\ndata: b", []event{{Data: "a"}}, decoded{}},
		{"stream ends with CR", "data: a\r\r", []event{{Data: "a"}}, decoded{}},
	}
	for _, tt := range tests {
		want := tt.extra
		want.Events = tt.want
		t.Run(tt.name, func(t *testing.T) {
			// The reference decoder must agree with the hand-written
			// expectation, or one of them misreads the standard.
			if ref := refDecode([]byte(tt.in)); !reflect.DeepEqual(ref.decoded, want) {
				t.Errorf("reference decoder:\n got %+v\nwant %+v", ref.decoded, want)
			}
			for _, rd := range readers {
				got := decodeAll(sse.NewDecoder(rd.new([]byte(tt.in))))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", rd.name, got, want)
				}
			}
		})
	}
}

// TestDecoderSpecExamples decodes the example streams of the standard's
// "Interpreting an event stream" section, kept in testdata/spec.
func TestDecoderSpecExamples(t *testing.T) {
	streams, err := filepath.Glob("testdata/spec/*.stream")
	if err != nil || len(streams) == 0 {
		t.Fatalf("no spec examples: %v", err)
	}
	for _, path := range streams {
		name := strings.TrimSuffix(filepath.Base(path), ".stream")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(strings.TrimSuffix(path, ".stream") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Events []struct {
					ID   string `json:"id"`
					Type string `json:"type"`
					Data string `json:"data"`
				} `json:"events"`
				LastEventID string   `json:"lastEventId"`
				Comments    []string `json:"comments"`
			}
			if err := json.Unmarshal(golden, &want); err != nil {
				t.Fatal(err)
			}
			wantDecoded := decoded{LastID: want.LastEventID, Comments: want.Comments}
			for _, e := range want.Events {
				wantDecoded.Events = append(wantDecoded.Events, event{ID: e.ID, Type: e.Type, Data: e.Data})
			}
			for _, rd := range readers {
				if got := decodeAll(sse.NewDecoder(rd.new(in))); !reflect.DeepEqual(got, wantDecoded) {
					t.Errorf("%s:\n got %+v\nwant %+v", rd.name, got, wantDecoded)
				}
			}
		})
	}
}

func TestDecoderLimits(t *testing.T) {
	tests := []struct {
		name      string
		maxLine   int
		maxEvent  int
		in        string
		wantData  []string // events returned before the error
		wantError error
	}{
		{"line at limit", 8, 0, "data: 12\n\n", []string{"12"}, nil},
		{"line over limit", 8, 0, "data: 1\n\ndata: 123\n\n", []string{"1"}, sse.ErrLineTooLong},
		{"unterminated line over limit", 8, 0, "data: 1\n\ndata: 123", []string{"1"}, sse.ErrLineTooLong},
		{"comment over limit", 8, 0, ": 1234567\n\n", nil, sse.ErrLineTooLong},
		{"event at limit", 0, 10, "data: 12345\ndata: 1234\n\n", []string{"12345\n1234"}, nil},
		{"event over limit", 0, 10, "data: 12345\ndata: 12345\n\n", nil, sse.ErrEventTooLarge},
		{"type counts", 0, 10, "event: abcd\ndata: 1234567\n\n", nil, sse.ErrEventTooLarge},
		{"limit is per event", 0, 10, "data: 1234567890\n\ndata: 1234567890\n\n",
			[]string{"1234567890", "1234567890"}, nil},
		{"replacement counts", 0, 4, "data: \xFF\xFF\n\n", nil, sse.ErrEventTooLarge},
		{"comments do not count", 0, 4, ": 123456789\n: 123456789\ndata: 1234\n\n", []string{"1234"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range readers {
				d := sse.NewDecoder(rd.new([]byte(tt.in)))
				d.MaxLineSize, d.MaxEventSize = tt.maxLine, tt.maxEvent
				got := decodeAll(d)
				var data []string
				for _, ev := range got.Events {
					data = append(data, ev.Data)
				}
				if !reflect.DeepEqual(data, tt.wantData) || !errors.Is(got.Err, tt.wantError) || (tt.wantError == nil) != (got.Err == nil) {
					t.Errorf("%s: got %q, %v; want %q, %v", rd.name, data, got.Err, tt.wantData, tt.wantError)
				}
			}
		})
	}
}

// repeatReader endlessly returns its pattern, counting what it returned.
type repeatReader struct {
	pattern []byte
	pos     int
	read    int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[r.pos]
		r.pos = (r.pos + 1) % len(r.pattern)
	}
	r.read += len(p)
	return len(p), nil
}

// TestDecoderBoundedMemory feeds endless lines and endless events: the
// decoder must fail within its limits instead of reading on.
func TestDecoderBoundedMemory(t *testing.T) {
	const limit = 100 << 10
	tests := []struct {
		name    string
		pattern string
		want    error
	}{
		{"endless line", "data: xxxxxxxxxxxxxxxx", sse.ErrLineTooLong},
		{"endless event", "data: xxxxxxxxxxxxxxxx\n", sse.ErrEventTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &repeatReader{pattern: []byte(tt.pattern)}
			d := sse.NewDecoder(r)
			d.MaxLineSize, d.MaxEventSize = limit, limit
			if _, err := d.Next(); !errors.Is(err, tt.want) {
				t.Fatalf("Next: %v, want %v", err, tt.want)
			}
			if r.read > 3*limit {
				t.Errorf("read %d bytes before failing; limit %d", r.read, limit)
			}
			if c := sse.BufferCap(d); c > limit+1 {
				t.Errorf("read buffer grew to %d bytes; limit %d", c, limit)
			}
		})
	}
}

// errAfter returns its data, then err.
type errAfter struct {
	data []byte
	err  error
}

func (r *errAfter) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecoderReadErrors(t *testing.T) {
	broken := errors.New("connection reset")
	t.Run("events before the error, then the error, sticky", func(t *testing.T) {
		d := sse.NewDecoder(&errAfter{[]byte("data: a\n\ndata: b\n\ndata: c\n"), broken})
		for _, want := range []string{"a", "b"} {
			ev, err := d.Next()
			if err != nil || string(ev.Data) != want {
				t.Fatalf("Next = %q, %v; want %q", ev.Data, err, want)
			}
		}
		for range 2 {
			if _, err := d.Next(); err != broken {
				t.Fatalf("Next error = %v, want %v", err, broken)
			}
		}
	})
	t.Run("data returned with the error", func(t *testing.T) {
		r := dataWithError{data: "data: a\n\n", err: broken}
		d := sse.NewDecoder(&r)
		if ev, err := d.Next(); err != nil || string(ev.Data) != "a" {
			t.Fatalf("Next = %q, %v; want a", ev.Data, err)
		}
		if _, err := d.Next(); err != broken {
			t.Fatalf("Next error = %v, want %v", err, broken)
		}
	})
	t.Run("All yields the error last", func(t *testing.T) {
		got := decodeAll(sse.NewDecoder(&errAfter{[]byte("data: a\n\n"), broken}))
		if len(got.Events) != 1 || got.Err != broken {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("limit errors are sticky", func(t *testing.T) {
		d := sse.NewDecoder(strings.NewReader("data: 123456789\n\ndata: a\n\n"))
		d.MaxLineSize = 4
		for range 2 {
			if _, err := d.Next(); !errors.Is(err, sse.ErrLineTooLong) {
				t.Fatalf("Next error = %v, want ErrLineTooLong", err)
			}
		}
	})
	t.Run("no progress", func(t *testing.T) {
		d := sse.NewDecoder(emptyReader{})
		if _, err := d.Next(); err != io.ErrNoProgress {
			t.Fatalf("Next error = %v, want io.ErrNoProgress", err)
		}
	})
}

// dataWithError returns all its data and err from the same Read.
type dataWithError struct {
	data string
	err  error
}

func (r *dataWithError) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if r.data == "" {
		return n, r.err
	}
	return n, nil
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// TestDecoderLive checks that an event is returned as soon as its blank
// line arrives: the decoder must not wait for more input, not even to see
// whether a CR is followed by LF.
func TestDecoderLive(t *testing.T) {
	for _, frame := range []string{"data: a\n\n", "data: a\r\r", "data: a\r\n\r"} {
		pr, pw := io.Pipe()
		d := sse.NewDecoder(pr)
		got := make(chan string)
		go func() {
			for ev, err := range d.All() {
				if err != nil {
					break
				}
				got <- string(ev.Data)
			}
			close(got)
		}()
		for range 3 {
			if _, err := pw.Write([]byte(frame)); err != nil {
				t.Fatal(err)
			}
			select {
			case data := <-got:
				if data != "a" {
					t.Fatalf("%q: got %q", frame, data)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%q: event not returned before more input", frame)
			}
		}
		// A trailing LF after CR, sent later, must not end another line.
		if _, err := pw.Write([]byte("\ndata: b\n\n")); err != nil {
			t.Fatal(err)
		}
		if data := <-got; data != "b" {
			t.Fatalf("%q: got %q after LF, want b", frame, data)
		}
		pw.Close()
		if _, open := <-got; open {
			t.Fatalf("%q: more events than sent", frame)
		}
	}
}

// TestDecoderDataNotAliased checks that an event's Data stays valid after
// further calls to Next, for small and large events alike.
func TestDecoderDataNotAliased(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	in := "data: one\n\ndata: two\n\ndata: " + big + "\n\ndata: " + strings.ToUpper(big) + "\n\n"
	d := sse.NewDecoder(chunkReader{strings.NewReader(in), 1000})
	var all [][]byte
	for ev, err := range d.All() {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ev.Data)
	}
	want := []string{"one", "two", big, strings.ToUpper(big)}
	if len(all) != len(want) {
		t.Fatalf("got %d events, want %d", len(all), len(want))
	}
	for i := range want {
		if !bytes.Equal(all[i], []byte(want[i])) {
			t.Errorf("event %d changed after later reads", i)
		}
	}
}

func TestDecoderSetLastEventID(t *testing.T) {
	d := sse.NewDecoder(strings.NewReader("data: a\n\nid: 8\ndata: b\n\ndata: c\n"))
	d.SetLastEventID("7")
	got := decodeAll(d)
	want := []event{{ID: "7", Data: "a"}, {ID: "8", Data: "b"}}
	if !reflect.DeepEqual(got.Events, want) || got.LastID != "8" {
		t.Fatalf("got %+v, want %+v and last ID 8", got, want)
	}

	d = sse.NewDecoder(strings.NewReader(": nothing yet\n"))
	d.SetLastEventID("7")
	if got := decodeAll(d); got.LastID != "7" {
		t.Fatalf("last ID %q after a stream without events, want the seed", got.LastID)
	}
}

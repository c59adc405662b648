package sse_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhub/herald/sse"
)

// FuzzDecode feeds arbitrary streams to the decoder, through every reader,
// and to the naive reference decoder. They must agree; and with small
// limits, the decoder must fail exactly when a limit is passed.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"data: a\n\n",
		"\xEF\xBB\xBFid: 1\r\nevent: x\r\ndata: a\r\ndata\r\n\r\n",
		": c\rretry: 10\rdata:  b\r\rid\n\ndata: \xE2\x82\n\n",
		"id: a\x00\ndata: \xF0\x9F\x98\n\nretry: 99999999999999999999\n\ndata: x",
		"event: e\n\ndata: 0123456789012345678901234567890123\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		ref := refDecode(stream)
		for _, rd := range readers {
			got := decodeAll(sse.NewDecoder(rd.new(stream)))
			if !reflect.DeepEqual(got, ref.decoded) {
				t.Fatalf("%s:\n got %+v\nwant %+v", rd.name, got, ref.decoded)
			}
		}
		checkDecoded(t, ref.decoded)

		const maxLine, maxEvent = 16, 32
		d := sse.NewDecoder(bytes.NewReader(stream))
		d.MaxLineSize, d.MaxEventSize = maxLine, maxEvent
		got := decodeAll(d)
		for _, ev := range got.Events {
			if len(ev.Data)+len(ev.Type) > maxEvent {
				t.Fatalf("event of %d bytes returned; limit %d", len(ev.Data)+len(ev.Type), maxEvent)
			}
		}
		if len(got.Events) > len(ref.Events) || !slices.Equal(got.Events, ref.Events[:len(got.Events)]) {
			t.Fatalf("with limits, events differ from the reference:\n got %+v\nwant a prefix of %+v", got.Events, ref.Events)
		}
		longest := longestLine(stream)
		switch {
		case got.Err == nil:
			if longest > maxLine || ref.maxEventSize > maxEvent {
				t.Fatalf("no error; longest line %d, largest event %d", longest, ref.maxEventSize)
			}
			if !reflect.DeepEqual(got, ref.decoded) {
				t.Fatalf("within limits:\n got %+v\nwant %+v", got, ref.decoded)
			}
		case errors.Is(got.Err, sse.ErrLineTooLong):
			if longest <= maxLine {
				t.Fatalf("ErrLineTooLong; longest line %d", longest)
			}
		case errors.Is(got.Err, sse.ErrEventTooLarge):
			if ref.maxEventSize <= maxEvent {
				t.Fatalf("ErrEventTooLarge; largest event %d", ref.maxEventSize)
			}
		default:
			t.Fatalf("unexpected error %v", got.Err)
		}
	})
}

// checkDecoded checks what any decoded stream satisfies.
func checkDecoded(t *testing.T, got decoded) {
	t.Helper()
	for _, ev := range got.Events {
		if !utf8.ValidString(ev.ID) || !utf8.ValidString(ev.Type) || !utf8.ValidString(ev.Data) {
			t.Fatalf("invalid UTF-8 in %+q", ev)
		}
		if strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Type, "\r\n") || strings.Contains(ev.Data, "\r") {
			t.Fatalf("line ending or NUL where none can be: %+q", ev)
		}
	}
	for _, c := range got.Comments {
		if !utf8.ValidString(c) || strings.ContainsAny(c, "\r\n") {
			t.Fatalf("bad comment %+q", c)
		}
	}
	if !utf8.ValidString(got.LastID) || got.Retry < 0 {
		t.Fatalf("bad state: last ID %+q, retry %v", got.LastID, got.Retry)
	}
}

// longestLine returns the length of the longest line of stream, terminated
// or not, after the byte order mark, in bytes.
func longestLine(stream []byte) int {
	stream = bytes.TrimPrefix(stream, []byte("\xEF\xBB\xBF"))
	longest := 0
	for _, line := range bytes.FieldsFunc(stream, func(r rune) bool { return r == '\r' || r == '\n' }) {
		longest = max(longest, len(line))
	}
	return longest
}

// FuzzRoundTrip encodes two events and decodes them: the decoder must see
// what was encoded, as a client sees it. Data line endings become LF,
// ill-formed UTF-8 becomes U+FFFD, Retry is rounded up to milliseconds, and
// an event without ID carries the ID of the one before.
func FuzzRoundTrip(f *testing.F) {
	f.Add("1", "add", []byte("a\r\nb\rc\n"), int64(1500*time.Millisecond), "", "", []byte(""), int64(0))
	f.Add(" x", " t", []byte(" lead"), int64(1), "2", "message", []byte("\n\n"), int64(-5))
	f.Add("bad\nid", "x", []byte("a"), int64(0), "é", "bad\x00type", []byte("\xFF\xE2\x82"), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, id1, type1 string, data1 []byte, retry1 int64, id2, type2 string, data2 []byte, retry2 int64) {
		in := []sse.Event{
			{ID: id1, Type: type1, Data: data1, Retry: time.Duration(retry1)},
			{ID: id2, Type: type2, Data: data2, Retry: time.Duration(retry2)},
		}
		var (
			stream    []byte
			want      []event
			lastID    string
			lastRetry time.Duration
		)
		for _, ev := range in {
			next, err := ev.AppendTo(stream)
			invalid := strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Type, "\r\n\x00")
			if invalid != (err != nil) || (err != nil && !errors.Is(err, sse.ErrInvalidField)) {
				t.Fatalf("AppendTo(%+q) error %v", ev, err)
			}
			if err != nil {
				continue
			}
			stream = next
			if ev.ID != "" {
				lastID = refUTF8Decode([]byte(ev.ID))
			}
			retry := expectedRetry(ev.Retry)
			if retry > 0 {
				lastRetry = retry
			}
			data := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(refUTF8Decode(ev.Data))
			want = append(want, event{lastID, refUTF8Decode([]byte(ev.Type)), data, retry})
		}
		wantDecoded := decoded{Events: want, LastID: lastID, Retry: lastRetry}
		for _, rd := range readers[:2] {
			if got := decodeAll(sse.NewDecoder(rd.new(stream))); !reflect.DeepEqual(got, wantDecoded) {
				t.Fatalf("%s: stream %q\n got %+v\nwant %+v", rd.name, stream, got, wantDecoded)
			}
		}
	})
}

// expectedRetry is what a decoder reads back for an encoded retry.
func expectedRetry(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt64/time.Millisecond {
		return math.MaxInt64
	}
	return ms * time.Millisecond
}

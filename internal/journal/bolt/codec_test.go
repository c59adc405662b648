package bolt

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, ev := range []*journal.Event{
		{},
		{Topics: []string{"https://example.com/books/1"}, Data: []byte(`{"a":1}`)},
		{ID: "chosen", Type: "t", Topics: []string{"a", "", "c"}, Data: []byte("x\x00\r\n"), Retry: 3 * time.Second, Private: true},
		{ID: "negative retry", Retry: -time.Second},
		{Data: bytes.Repeat([]byte("z"), 1<<20)},
	} {
		buf := encodeEvent(ev)
		stampTime(buf, at)
		got, err := decodeEvent(42, buf, "ep0ch")
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", ev, err)
		}
		wantID := ev.ID
		if wantID == "" {
			wantID = journal.FormatID("ep0ch", 42)
		}
		if got.Seq != 42 || got.ID != wantID || got.Type != ev.Type || !slices.Equal(got.Topics, ev.Topics) ||
			!bytes.Equal(got.Data, ev.Data) || got.Retry != ev.Retry || got.Private != ev.Private || !got.Time.Equal(at) {
			t.Fatalf("round trip of %+v gave %+v", ev, got)
		}
		h, err := decodeHead(buf)
		if err != nil || h.id != ev.ID || !h.time.Equal(at) {
			t.Fatalf("decodeHead = %+v, %v; want ID %q, time %v", h, err, ev.ID, at)
		}
	}
}

// The record format is stored on disk: this pins its bytes so a change to
// it is deliberate (and comes with a new recordVersion).
func TestRecordFormat(t *testing.T) {
	buf := encodeEvent(&journal.Event{ID: "i", Type: "t", Topics: []string{"ab"}, Data: []byte("D"), Retry: 1, Private: true})
	stampTime(buf, time.Unix(0, 0x0102030405060708))
	want := []byte{
		1, flagPrivate, // version, flags
		1, 2, 3, 4, 5, 6, 7, 8, // time
		2,      // retry 1ns, zigzag varint
		1, 'i', // id
		1, 't', // type
		1, 2, 'a', 'b', // topics
		'D', // data
	}
	if got := buf; !bytes.Equal(got, want) {
		t.Fatalf("record\n got % x\nwant % x", got, want)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encodeEvent(&journal.Event{ID: "id", Type: "type", Topics: []string{"topic"}, Data: []byte("data")})
	for name, rec := range map[string][]byte{
		"empty":          nil,
		"short header":   good[:headerLen-1],
		"bad version":    append([]byte{9}, good[1:]...),
		"unknown flag":   append([]byte{recordVersion, 0x80}, good[2:]...),
		"truncated id":   good[:headerLen+2],
		"topic count":    append(slices.Clone(good[:headerLen+1+3+5]), 0xff, 0xff, 0xff, 0x0f),
		"varint overrun": append(slices.Clone(good[:headerLen]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	} {
		if _, err := decodeEvent(1, rec, "e"); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decodeEvent: %v, want errCorrupt", name, err)
		}
	}
}

// FuzzDecodeEvent checks that no stored bytes make decoding panic or
// allocate beyond their size, and that whatever decodes re-encodes to the
// same record.
func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range []*journal.Event{
		{},
		{ID: "id", Type: "type", Topics: []string{"a", "b"}, Data: []byte("data"), Retry: time.Second, Private: true},
		{Topics: []string{"https://example.com/books/1"}, Data: []byte("{}")},
	} {
		f.Add(encodeEvent(ev))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		ev, err := decodeEvent(7, rec, "e")
		if err != nil {
			return
		}
		if _, err := decodeHead(rec); err != nil {
			t.Fatalf("decodeEvent accepted a record decodeHead refuses: %v", err)
		}
		generated := rec[1]&flagGeneratedID != 0
		if generated {
			ev.ID = ""
		}
		again := encodeEvent(ev)
		stampTime(again, ev.Time)
		if !bytes.Equal(again, rec) {
			// Varints have several encodings; only canonical ones must
			// round-trip exactly, so compare what they decode to.
			ev2, err := decodeEvent(7, again, "e")
			if err != nil || ev2.Type != ev.Type || !slices.Equal(ev2.Topics, ev.Topics) || !bytes.Equal(ev2.Data, ev.Data) {
				t.Fatalf("re-encoding %+v changed it: %+v, %v", ev, ev2, err)
			}
		}
	})
}

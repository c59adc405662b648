package journal_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/sse"
)

func TestValidate(t *testing.T) {
	topics := func(n int) []string { return strings.Split(strings.Repeat("t,", n-1)+"t", ",") }
	ok := func(f func(*journal.Event)) *journal.Event {
		ev := &journal.Event{Topics: []string{"https://example.com/books/1"}, Data: []byte("x")}
		f(ev)
		return ev
	}
	tests := []struct {
		name string
		ev   *journal.Event
		lim  journal.Limits
		rule error  // nil: valid
		msg  string // the error's text, when refused
	}{
		{"plain", ok(func(*journal.Event) {}), journal.Limits{}, nil, ""},
		{"everything set", ok(func(ev *journal.Event) {
			ev.ID, ev.Type, ev.Retry, ev.Data = "book-1 ünï", "update", time.Second, []byte("a\nb — ü")
		}), journal.Limits{}, nil, ""},
		{"nil", nil, journal.Limits{}, journal.ErrInvalidEvent, "invalid event: missing"},

		{"no topic", ok(func(ev *journal.Event) { ev.Topics = nil }), journal.Limits{}, journal.ErrNoTopic, "invalid topic: at least one is required"},
		{"32 topics", ok(func(ev *journal.Event) { ev.Topics = topics(32) }), journal.Limits{}, nil, ""},
		{"33 topics", ok(func(ev *journal.Event) { ev.Topics = topics(33) }), journal.Limits{}, journal.ErrTooManyTopics, "invalid topic: at most 32 per event"},
		{"3 topics, limit 2", ok(func(ev *journal.Event) { ev.Topics = topics(3) }), journal.Limits{MaxTopics: 2}, journal.ErrTooManyTopics, "invalid topic: at most 2 per event"},
		{"empty topic", ok(func(ev *journal.Event) { ev.Topics = []string{"a", ""} }), journal.Limits{}, journal.ErrEmptyTopic, "invalid topic: must not be empty"},
		{"topic of 2048 bytes", ok(func(ev *journal.Event) { ev.Topics = []string{strings.Repeat("t", 2048)} }), journal.Limits{}, nil, ""},
		{"topic of 2049 bytes", ok(func(ev *journal.Event) { ev.Topics = []string{strings.Repeat("t", 2049)} }), journal.Limits{}, journal.ErrTopicTooLong, "invalid topic: longer than 2048 bytes"},
		{"topic over its limit", ok(func(ev *journal.Event) { ev.Topics = []string{"abcd"} }), journal.Limits{MaxTopicLength: 3}, journal.ErrTopicTooLong, "invalid topic: longer than 3 bytes"},
		{"topic not UTF-8", ok(func(ev *journal.Event) { ev.Topics = []string{"a\xffb"} }), journal.Limits{}, journal.ErrTopicNotUTF8, "invalid topic: must be valid UTF-8"},
		{"topic with tab", ok(func(ev *journal.Event) { ev.Topics = []string{"a\tb"} }), journal.Limits{}, journal.ErrTopicControl, "invalid topic: must not contain control characters"},
		{"topic with C1", ok(func(ev *journal.Event) { ev.Topics = []string{"a\u0085"} }), journal.Limits{}, journal.ErrTopicControl, "invalid topic: must not contain control characters"},

		{"generated id", ok(func(ev *journal.Event) { ev.ID = journal.FormatID("e", 1) }), journal.Limits{}, journal.ErrReservedID, "invalid id: the urn:herald: prefix is reserved"},
		{"bare prefix", ok(func(ev *journal.Event) { ev.ID = "urn:herald:" }), journal.Limits{}, journal.ErrReservedID, "invalid id: the urn:herald: prefix is reserved"},
		{"earliest", ok(func(ev *journal.Event) { ev.ID = "earliest" }), journal.Limits{}, journal.ErrReservedID, "invalid id: earliest is reserved"},
		{"id like the prefix", ok(func(ev *journal.Event) { ev.ID = "urn:heraldry:1" }), journal.Limits{}, nil, ""},
		{"id of 1024 bytes", ok(func(ev *journal.Event) { ev.ID = strings.Repeat("i", 1024) }), journal.Limits{}, nil, ""},
		{"id of 1025 bytes", ok(func(ev *journal.Event) { ev.ID = strings.Repeat("i", 1025) }), journal.Limits{}, journal.ErrInvalidID, "invalid id: longer than 1024 bytes"},
		{"id over its limit", ok(func(ev *journal.Event) { ev.ID = "abcd" }), journal.Limits{MaxIDLength: 3}, journal.ErrInvalidID, "invalid id: longer than 3 bytes"},
		{"id not UTF-8", ok(func(ev *journal.Event) { ev.ID = "\xc3" }), journal.Limits{}, journal.ErrInvalidID, "invalid id: must be valid UTF-8"},
		{"id with LF", ok(func(ev *journal.Event) { ev.ID = "a\nevent: forged" }), journal.Limits{}, journal.ErrInvalidID, "invalid id: must not contain control characters"},

		{"type of 1025 bytes", ok(func(ev *journal.Event) { ev.Type = strings.Repeat("t", 1025) }), journal.Limits{}, journal.ErrInvalidType, "invalid type: longer than 1024 bytes"},
		{"type not UTF-8", ok(func(ev *journal.Event) { ev.Type = "\xff" }), journal.Limits{}, journal.ErrInvalidType, "invalid type: must be valid UTF-8"},
		{"type with CR", ok(func(ev *journal.Event) { ev.Type = "t\r" }), journal.Limits{}, journal.ErrInvalidType, "invalid type: must not contain control characters"},

		{"retry of 24h", ok(func(ev *journal.Event) { ev.Retry = journal.MaxRetry }), journal.Limits{}, nil, ""},
		{"retry over 24h", ok(func(ev *journal.Event) { ev.Retry = journal.MaxRetry + time.Millisecond }), journal.Limits{}, journal.ErrRetryRange, "invalid retry: must be from 0 to 86400000 milliseconds"},
		{"negative retry", ok(func(ev *journal.Event) { ev.Retry = -time.Millisecond }), journal.Limits{}, journal.ErrRetryRange, "invalid retry: must be from 0 to 86400000 milliseconds"},

		{"data not UTF-8", ok(func(ev *journal.Event) { ev.Data = []byte("\xfe") }), journal.Limits{}, journal.ErrDataNotUTF8, "invalid data: must be valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ev.Validate(tt.lim)
			if tt.rule == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.rule) || !errors.Is(err, journal.ErrInvalidEvent) {
				t.Fatalf("Validate = %v, want %v", err, tt.rule)
			}
			ee, ok := errors.AsType[*journal.EventError](err)
			if !ok {
				t.Fatalf("Validate = %T, want *EventError", err)
			}
			if got := "invalid " + ee.Field + ": " + ee.Reason; got != tt.msg {
				t.Errorf("publisher reads %q, want %q", got, tt.msg)
			}
		})
	}
}

// Every control character is refused in an ID and a type, not only the CR,
// LF and NUL the wire format forbids; the first character past them is not.
func TestValidateRefusesEveryControlCharacter(t *testing.T) {
	isControl := func(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }
	for r := rune(0); r <= 0xa0; r++ {
		for field, ev := range map[string]*journal.Event{
			"id":   {Topics: []string{"t"}, ID: "a" + string(r) + "b"},
			"type": {Topics: []string{"t"}, Type: "a" + string(r) + "b"},
		} {
			err := ev.Validate(journal.Limits{})
			if got := err != nil; got != isControl(r) {
				t.Errorf("%s with %U: Validate = %v, want refused: %t", field, r, err, isControl(r))
			}
		}
	}
}

func TestValidateTopic(t *testing.T) {
	lim := journal.Limits{MaxTopicLength: 8}
	if err := journal.ValidateTopic("/books/{id}", journal.Limits{}); err != nil {
		t.Errorf("a URI template: %v", err)
	}
	if err := journal.ValidateTopic("123456789", lim); !errors.Is(err, journal.ErrTopicTooLong) {
		t.Errorf("over the limit: %v, want ErrTopicTooLong", err)
	}
	if err := journal.ValidateTopic("a\x7f", lim); !errors.Is(err, journal.ErrTopicControl) {
		t.Errorf("with DEL: %v, want ErrTopicControl", err)
	}
}

func TestValidateLastEventID(t *testing.T) {
	for _, id := range []string{"", "earliest", journal.FormatID("e", 7), "book-1", strings.Repeat("x", 4096)} {
		if err := journal.ValidateLastEventID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"a\x1bb", "a\x7f", "a\u009b", "a\tb", "\xff"} {
		if err := journal.ValidateLastEventID(id); !errors.Is(err, journal.ErrInvalidID) {
			t.Errorf("%q: %v, want ErrInvalidID", id, err)
		}
	}
}

// Whatever Validate accepts can be written as an SSE frame.
func FuzzValidatedEventsEncode(f *testing.F) {
	f.Add("id", "type", "data", int64(0))
	f.Add("a\x0bb", "c\u0085", "line\r\nline", int64(time.Hour))
	f.Fuzz(func(t *testing.T, id, typ, data string, retry int64) {
		ev := &journal.Event{Topics: []string{"t"}, ID: id, Type: typ, Data: []byte(data), Retry: time.Duration(retry)}
		if ev.Validate(journal.Limits{}) != nil {
			return
		}
		if _, err := (sse.Event{ID: id, Type: typ, Data: ev.Data, Retry: ev.Retry}).MarshalText(); err != nil {
			t.Errorf("Validate accepted %+v, which sse cannot encode: %v", ev, err)
		}
	})
}

package journal

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Default limits of an event; see [Limits].
const (
	DefaultMaxTopics      = 32
	DefaultMaxTopicLength = 2048
	DefaultMaxIDLength    = 1024
)

// MaxRetry is the longest reconnection hint an event may carry.
const MaxRetry = 24 * time.Hour

// earliest is Mercure's Last-Event-ID for "everything retained": an event
// with this ID would send whoever resumes from it back to the start.
const earliest = "earliest"

// Limits bounds the parts of an event an operator may want to size. The
// zero value of each field means its default.
type Limits struct {
	// MaxTopics is the most topics one event may have (default
	// [DefaultMaxTopics]).
	MaxTopics int
	// MaxTopicLength bounds each topic, in bytes (default
	// [DefaultMaxTopicLength]).
	MaxTopicLength int
	// MaxIDLength bounds a publisher-chosen ID, and the type, in bytes
	// (default [DefaultMaxIDLength]).
	MaxIDLength int
}

func (lim Limits) maxTopics() int      { return orDefault(lim.MaxTopics, DefaultMaxTopics) }
func (lim Limits) maxTopicLength() int { return orDefault(lim.MaxTopicLength, DefaultMaxTopicLength) }
func (lim Limits) maxIDLength() int    { return orDefault(lim.MaxIDLength, DefaultMaxIDLength) }

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// ErrInvalidEvent reports an event that breaks a rule of [Event.Validate].
// Each rule has its own error value, such as [ErrNoTopic] or
// [ErrInvalidID], which wraps ErrInvalidEvent.
var ErrInvalidEvent = errors.New("journal: invalid event")

// The rules of [Event.Validate], one error value each. The error returned
// is an [*EventError] that wraps one of them.
var (
	// ErrNoTopic reports an event without a topic.
	ErrNoTopic = invalid("no topic")
	// ErrTooManyTopics reports more topics than [Limits.MaxTopics].
	ErrTooManyTopics = invalid("too many topics")
	// ErrEmptyTopic reports an empty topic.
	ErrEmptyTopic = invalid("empty topic")
	// ErrTopicTooLong reports a topic longer than [Limits.MaxTopicLength].
	ErrTopicTooLong = invalid("topic too long")
	// ErrTopicNotUTF8 reports a topic that is not valid UTF-8.
	ErrTopicNotUTF8 = invalid("topic not valid UTF-8")
	// ErrTopicControl reports a topic holding a control character.
	ErrTopicControl = invalid("control character in topic")
	// ErrReservedID reports an ID only the hub may give: one in the
	// generated-ID namespace (urn:herald:), or "earliest". Journals refuse
	// it too; see [CheckReservedID].
	ErrReservedID = invalid("reserved event ID")
	// ErrInvalidID reports an ID longer than [Limits.MaxIDLength], not
	// valid UTF-8 or holding a control character.
	ErrInvalidID = invalid("invalid event ID")
	// ErrInvalidType reports a type longer than [Limits.MaxIDLength], not
	// valid UTF-8 or holding a control character.
	ErrInvalidType = invalid("invalid event type")
	// ErrRetryRange reports a retry hint below zero or above [MaxRetry].
	ErrRetryRange = invalid("retry out of range")
	// ErrDataNotUTF8 reports data that is not valid UTF-8.
	ErrDataNotUTF8 = invalid("data not valid UTF-8")
)

func invalid(rule string) error { return fmt.Errorf("%w: %s", ErrInvalidEvent, rule) }

// EventError is the error of an event that breaks a rule: which field,
// and why, in words that echo no value and so may be shown to the
// publisher ("invalid " + Field + ": " + Reason). It wraps the rule's
// error value, such as [ErrInvalidID], and through it [ErrInvalidEvent].
type EventError struct {
	// Field is the field at fault, named as in a publish form: "topic",
	// "id", "type", "retry" or "data".
	Field string
	// Reason says what is wrong with it, for instance "must not contain
	// control characters".
	Reason string
	// Rule is the error value of the rule broken.
	Rule error
}

func (e *EventError) Error() string { return "journal: invalid " + e.Field + ": " + e.Reason }

// Unwrap returns Rule.
func (e *EventError) Unwrap() error { return e.Rule }

// Validate checks ev against every rule of an event to publish, and
// returns nil or an [*EventError] for the first rule broken:
//
//   - Topics: at least one ([ErrNoTopic]), at most [Limits.MaxTopics]
//     ([ErrTooManyTopics]), each one valid for [ValidateTopic];
//   - ID: empty (the journal then generates one), or not reserved
//     ([ErrReservedID]; see [CheckReservedID]), at most
//     [Limits.MaxIDLength] bytes of UTF-8 without control characters
//     ([ErrInvalidID]);
//   - Type: at most [Limits.MaxIDLength] bytes of UTF-8 without control
//     characters ([ErrInvalidType]);
//   - Retry: from 0 to [MaxRetry] ([ErrRetryRange]);
//   - Data: valid UTF-8 ([ErrDataNotUTF8]).
//
// A control character is any of C0 (U+0000 to U+001F, tab included), DEL
// (U+007F) and C1 (U+0080 to U+009F). The event stream format forbids only
// CR, LF and NUL in an ID or a type, since they would break the frame;
// Herald refuses them all, because IDs and types also end up in logs,
// terminals and Last-Event-ID headers, which the others can steer or break.
//
// Validate is for events about to be published: an event read back from a
// journal may carry a generated ID, which is reserved.
func (ev *Event) Validate(lim Limits) error {
	if ev == nil {
		return &EventError{Field: "event", Reason: "missing", Rule: ErrInvalidEvent}
	}
	if err := validateTopics(ev.Topics, lim); err != nil {
		return err
	}
	if err := CheckReservedID(ev.ID); err != nil {
		return err
	}
	maxLen := lim.maxIDLength()
	if fault := checkText(ev.ID, maxLen); fault != textOK {
		return &EventError{Field: "id", Reason: fault.reason(maxLen), Rule: ErrInvalidID}
	}
	if fault := checkText(ev.Type, maxLen); fault != textOK {
		return &EventError{Field: "type", Reason: fault.reason(maxLen), Rule: ErrInvalidType}
	}
	if ev.Retry < 0 || ev.Retry > MaxRetry {
		return &EventError{Field: "retry", Reason: "must be from 0 to " + strconv.FormatInt(MaxRetry.Milliseconds(), 10) + " milliseconds", Rule: ErrRetryRange}
	}
	if !utf8.Valid(ev.Data) {
		return &EventError{Field: "data", Reason: "must be valid UTF-8", Rule: ErrDataNotUTF8}
	}
	return nil
}

func validateTopics(topics []string, lim Limits) error {
	if len(topics) == 0 {
		return &EventError{Field: "topic", Reason: "at least one is required", Rule: ErrNoTopic}
	}
	if n := lim.maxTopics(); len(topics) > n {
		return &EventError{Field: "topic", Reason: "at most " + strconv.Itoa(n) + " per event", Rule: ErrTooManyTopics}
	}
	for _, t := range topics {
		if err := ValidateTopic(t, lim); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTopic checks one topic: not empty ([ErrEmptyTopic]), at most
// [Limits.MaxTopicLength] bytes ([ErrTopicTooLong]) of valid UTF-8
// ([ErrTopicNotUTF8]) without control characters ([ErrTopicControl]). It
// returns nil or an [*EventError]. A subscription's topic selectors obey
// the same rule.
func ValidateTopic(topic string, lim Limits) error {
	if topic == "" {
		return &EventError{Field: "topic", Reason: "must not be empty", Rule: ErrEmptyTopic}
	}
	maxLen := lim.maxTopicLength()
	fault := checkText(topic, maxLen)
	var rule error
	switch fault {
	case textOK:
		return nil
	case textTooLong:
		rule = ErrTopicTooLong
	case textNotUTF8:
		rule = ErrTopicNotUTF8
	case textControl:
		rule = ErrTopicControl
	}
	return &EventError{Field: "topic", Reason: fault.reason(maxLen), Rule: rule}
}

// CheckReservedID returns an [*EventError] wrapping [ErrReservedID] when
// id is one a publisher may not choose, nil otherwise (for "" too): an ID
// in the generated-ID namespace (urn:herald:), which would collide with
// the journal's own, or "earliest", which Mercure subscribers send to be
// replayed everything. [Event.Validate] applies it, and so does every
// journal's Append, so that no event reaches the journal with such an ID.
func CheckReservedID(id string) error {
	switch {
	case isGenerated(id):
		return &EventError{Field: "id", Reason: "the " + idPrefix + " prefix is reserved", Rule: ErrReservedID}
	case id == earliest:
		return &EventError{Field: "id", Reason: earliest + " is reserved", Rule: ErrReservedID}
	}
	return nil
}

// ValidateLastEventID checks an ID a subscriber resumes from: valid UTF-8
// without control characters, as every event ID is. It returns nil or an
// [*EventError] wrapping [ErrInvalidID]. Reserved IDs are what subscribers
// usually send, and an ID longer than any the hub gives is merely unknown,
// so neither is refused.
func ValidateLastEventID(id string) error {
	if fault := checkText(id, math.MaxInt); fault != textOK {
		return &EventError{Field: "id", Reason: fault.reason(math.MaxInt), Rule: ErrInvalidID}
	}
	return nil
}

// textFault is what makes a string unfit for a topic, an ID or a type.
type textFault uint8

const (
	textOK textFault = iota
	textTooLong
	textNotUTF8
	textControl
)

// reason words the fault for the publisher, given the limit of maxLen
// bytes.
func (f textFault) reason(maxLen int) string {
	switch f {
	case textTooLong:
		return "longer than " + strconv.Itoa(maxLen) + " bytes"
	case textNotUTF8:
		return "must be valid UTF-8"
	case textControl:
		return "must not contain control characters"
	}
	return ""
}

// checkText is the rule shared by topics, IDs and types: at most max
// bytes of valid UTF-8 without any control character (C0, DEL, C1).
func checkText(s string, maxLen int) textFault {
	if len(s) > maxLen {
		return textTooLong
	}
	if !utf8.ValidString(s) {
		return textNotUTF8
	}
	for i := 0; i < len(s); i++ {
		// In valid UTF-8, C1 controls are exactly the pairs 0xC2 0x80-0x9F,
		// and 0xC2 is never a continuation byte.
		b := s[i]
		if b < 0x20 || b == 0x7f || b == 0xc2 && i+1 < len(s) && s[i+1] <= 0x9f {
			return textControl
		}
	}
	return textOK
}

// isGenerated reports whether id lies in the generated-ID namespace.
func isGenerated(id string) bool { return strings.HasPrefix(id, idPrefix) }

package jetstream

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldhub/herald/internal/journal"
)

// The headers of a stored event. Data is the message's payload; everything
// else is a header, so that `nats stream view` shows events as they are.
const (
	// hdrEpoch is the epoch of the journal that appended the event, which
	// its generated ID carries (see [Journal.Epoch]).
	hdrEpoch = "Herald-Epoch"
	// hdrID is a publisher-chosen ID; absent for a generated one.
	hdrID = "Herald-Id"
	// hdrTopic is repeated, once per topic, in order.
	hdrTopic   = "Herald-Topic"
	hdrType    = "Herald-Type"
	hdrRetry   = "Herald-Retry"   // nanoseconds
	hdrPrivate = "Herald-Private" // "1", or absent
	hdrTime    = "Herald-Time"    // Unix nanoseconds
	// hdrPub names one publish of one journal handle, so that the message
	// of a publish whose acknowledgement was lost can be found (see
	// resolve).
	hdrPub = "Herald-Pub"
)

// The headers JetStream sets on what a direct get returns.
const (
	hdrNatsSeq = "Nats-Sequence"
	hdrStatus  = "Status"
)

// errNotEvent reports a message of the stream that is not a Herald event.
var errNotEvent = errors.New("not a herald event")

// subjects are the subjects of one journal's stream, all under one prefix.
type subjects struct {
	prefix string
}

// all is the stream's one subject filter: everything under the prefix.
func (s subjects) all() string { return s.prefix + ".>" }

// event is the subject of events whose ID the journal generates.
func (s subjects) event() string { return s.prefix + ".ev" }

// id is the subject of the event whose publisher chose id. Each such
// event has a subject of its own, so that JetStream can refuse a second
// one while the first is stored (Nats-Expected-Last-Subject-Sequence: 0).
// The subject holds a hash of the ID, not the ID: a subject token cannot
// hold every character an ID can, and the server keeps every subject in
// memory, so a short fixed length bounds what a long ID costs it.
func (s subjects) id(id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.prefix + ".id." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// key is the subject of the events of key (see journal.Keyed), hashed
// for the reasons id's is. The stream's last message on it is the key's
// last event, which Nats-Expected-Last-Subject-Sequence checks.
func (s subjects) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + ".key." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// keyed is the filter of every keyed event's subject.
func (s subjects) keyed() string { return s.prefix + ".key.*" }

// isKeyed reports whether subject is a keyed event's.
func (s subjects) isKeyed(subject string) bool {
	return strings.HasPrefix(subject, s.prefix+".key.")
}

// keyed is how an event is queued with a key: its subject, and the
// position of the key's last event it expects, if any.
type keyed struct {
	subject string
	last    *uint64
}

// encode returns the message that stores ev, appended at t by a journal of
// epoch epoch, as publish pub; k, when not nil, is the event's key.
func encode(subj subjects, ev *journal.Event, k *keyed, epoch, pub string, t time.Time) *nats.Msg {
	h := make(nats.Header, 8)
	h[hdrEpoch] = []string{epoch}
	h[hdrPub] = []string{pub}
	h[hdrTime] = []string{strconv.FormatInt(t.UnixNano(), 10)}
	subject := subj.event()
	if k != nil {
		subject = k.subject
		if k.last != nil {
			h[nats.ExpectedLastSubjSeqHdr] = []string{strconv.FormatUint(*k.last, 10)}
		}
	}
	if ev.ID != "" {
		subject = subj.id(ev.ID)
		h[hdrID] = []string{escape(ev.ID)}
		// Stored only if no event holds the ID now.
		h[nats.ExpectedLastSubjSeqHdr] = []string{"0"}
	}
	if len(ev.Topics) > 0 {
		topics := make([]string, len(ev.Topics))
		for i, t := range ev.Topics {
			topics[i] = escape(t)
		}
		h[hdrTopic] = topics
	}
	if ev.Type != "" {
		h[hdrType] = []string{escape(ev.Type)}
	}
	if ev.Retry != 0 {
		h[hdrRetry] = []string{strconv.FormatInt(int64(ev.Retry), 10)}
	}
	if ev.Private {
		h[hdrPrivate] = []string{"1"}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: ev.Data}
}

// decode returns the event stored at seq as a message with headers h and
// payload data, which the event keeps.
func decode(seq uint64, h nats.Header, data []byte) (*journal.Event, error) {
	epoch := h.Get(hdrEpoch)
	ns, err := strconv.ParseInt(h.Get(hdrTime), 10, 64)
	if epoch == "" || err != nil {
		return nil, errNotEvent
	}
	ev := &journal.Event{Seq: seq, Time: time.Unix(0, ns), Data: data}
	if id, ok := h[hdrID]; ok && len(id) == 1 {
		if ev.ID, err = unescape(id[0]); err != nil {
			return nil, err
		}
	} else {
		ev.ID = journal.FormatID(epoch, seq)
	}
	if topics := h[hdrTopic]; len(topics) > 0 {
		ev.Topics = make([]string, len(topics))
		for i, t := range topics {
			if ev.Topics[i], err = unescape(t); err != nil {
				return nil, err
			}
		}
	}
	if ev.Type, err = unescape(h.Get(hdrType)); err != nil {
		return nil, err
	}
	if r := h.Get(hdrRetry); r != "" {
		n, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", hdrRetry, err)
		}
		ev.Retry = time.Duration(n)
	}
	ev.Private = h.Get(hdrPrivate) == "1"
	return ev, nil
}

// escape makes s fit for a header value that reads back exactly: NATS
// trims the spaces around a value and cannot carry CR or LF, so '%', space,
// and the ASCII control characters become %XX. Everything else, UTF-8
// included, stays as it is, so topic URLs read as they are.
func escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if mustEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if mustEscape(c) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func mustEscape(c byte) bool { return c <= ' ' || c == 0x7f || c == '%' }

// unescape reverses escape.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated escape in %q", errNotEvent, s)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: bad escape in %q", errNotEvent, s)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

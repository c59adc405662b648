package bolt

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/heraldhub/herald/internal/journal"
)

// An event is stored as a record keyed by its position (8 bytes, big
// endian, so keys sort in position order). Version 1 of the record is:
//
//	version  1 byte  (1)
//	flags    1 byte  (flagPrivate, flagGeneratedID)
//	time     8 bytes big-endian Unix nanoseconds, written at commit
//	retry    varint nanoseconds
//	id       uvarint length + bytes, absent when flagGeneratedID is set:
//	         a generated ID is rebuilt from the epoch and the position
//	type     uvarint length + bytes
//	topics   uvarint count, then uvarint length + bytes for each
//	data     every remaining byte
//
// The time sits at a fixed offset so the committer can stamp records that
// publishers encoded before the commit.
const (
	recordVersion = 1

	flagPrivate     = 1 << 0
	flagGeneratedID = 1 << 1

	timeOffset = 2
	headerLen  = timeOffset + 8

	keyLen = 8
)

var errCorrupt = errors.New("journal/bolt: corrupt event record")

// encodeEvent returns ev's record, its time left zero for the committer
// to stamp.
func encodeEvent(ev *journal.Event) []byte {
	size := headerLen + binary.MaxVarintLen64 + stringLen(ev.ID) + stringLen(ev.Type) +
		binary.MaxVarintLen64 + len(ev.Data)
	for _, topic := range ev.Topics {
		size += stringLen(topic)
	}
	buf := make([]byte, headerLen, size)

	buf[0] = recordVersion
	var flags byte
	if ev.Private {
		flags |= flagPrivate
	}
	if ev.ID == "" {
		flags |= flagGeneratedID
	}
	buf[1] = flags
	buf = binary.AppendVarint(buf, int64(ev.Retry))
	if ev.ID != "" {
		buf = appendString(buf, ev.ID)
	}
	buf = appendString(buf, ev.Type)
	buf = binary.AppendUvarint(buf, uint64(len(ev.Topics)))
	for _, topic := range ev.Topics {
		buf = appendString(buf, topic)
	}
	return append(buf, ev.Data...)
}

func stringLen(s string) int { return binary.MaxVarintLen64 + len(s) }

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// stampTime writes the commit time into a record.
func stampTime(record []byte, t time.Time) {
	binary.BigEndian.PutUint64(record[timeOffset:], uint64(t.UnixNano()))
}

// seqKey is the bucket key of position seq.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), seq) }

// recordHead is the part of a record that retention needs.
type recordHead struct {
	time time.Time
	// id is the publisher-chosen ID; empty for a generated one.
	id string
}

// decodeHead decodes the time and publisher ID of a record.
func decodeHead(record []byte) (recordHead, error) {
	d := decoder{b: record}
	flags, t := d.header()
	d.varint() // retry
	var h recordHead
	h.time = t
	if flags&flagGeneratedID == 0 {
		h.id = d.string()
	}
	return h, d.err
}

// decodeEvent decodes the record stored at position seq of a journal whose
// epoch is epoch. The event shares no memory with record, which bbolt only
// lends for the life of a transaction.
func decodeEvent(seq uint64, record []byte, epoch string) (*journal.Event, error) {
	d := decoder{b: record}
	flags, t := d.header()
	ev := &journal.Event{
		Seq:     seq,
		Time:    t,
		Retry:   time.Duration(d.varint()),
		Private: flags&flagPrivate != 0,
	}
	if flags&flagGeneratedID != 0 {
		ev.ID = journal.FormatID(epoch, seq)
	} else {
		ev.ID = d.string()
	}
	ev.Type = d.string()
	if n := d.uvarint(); n > 0 {
		// Every topic takes at least its length byte: a count beyond the
		// bytes left is corrupt, and must not size an allocation.
		if n > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		ev.Topics = make([]string, n)
		for i := range ev.Topics {
			ev.Topics[i] = d.string()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) > 0 {
		ev.Data = append([]byte(nil), d.b...)
	}
	return ev, nil
}

// decoder reads a record front to back. The first malformed field sets err;
// later reads then return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) header() (flags byte, t time.Time) {
	if len(d.b) < headerLen || d.b[0] != recordVersion || d.b[1]&^(flagPrivate|flagGeneratedID) != 0 {
		d.err = errCorrupt
		d.b = nil
		return 0, time.Time{}
	}
	flags = d.b[1]
	t = time.Unix(0, int64(binary.BigEndian.Uint64(d.b[timeOffset:])))
	d.b = d.b[headerLen:]
	return flags, t
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint undoes the zig-zag encoding of binary.AppendVarint on top of
// uvarint, as binary.Varint does.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) fail() {
	d.err = errCorrupt
	d.b = nil
}

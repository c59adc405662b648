package bench

import (
	"bytes"
	"strconv"
)

// Every event the bench publishes carries, as JSON, the step of the run it
// belongs to (0 for the probes that check subscribers are ready), its
// sequence number and the wall-clock time it was sent, in nanoseconds since
// the Unix epoch. Publisher and subscribers run on one machine, so they
// share that clock:
//
//	{"step":1,"seq":42,"sent":1712345678901234567,"pad":"xxxx"}
//
// The fields come in that fixed order so that the receiving side reads them
// with a few byte comparisons rather than a JSON decoder.
const (
	payloadStep = `{"step":`
	payloadSeq  = `,"seq":`
	payloadSent = `,"sent":`
	payloadPad  = `,"pad":"`
)

// payload is the content of one bench event.
type payload struct {
	step int
	seq  uint64
	sent int64
}

// appendPayload appends p to b, padded with 'x' to at least size bytes.
func appendPayload(b []byte, p payload, size int) []byte {
	start := len(b)
	b = append(b, payloadStep...)
	b = strconv.AppendInt(b, int64(p.step), 10)
	b = append(b, payloadSeq...)
	b = strconv.AppendUint(b, p.seq, 10)
	b = append(b, payloadSent...)
	b = strconv.AppendInt(b, p.sent, 10)
	if pad := size - (len(b) - start) - len(payloadPad) - 2; pad > 0 {
		b = append(b, payloadPad...)
		for range pad {
			b = append(b, 'x')
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// parsePayload reads what appendPayload wrote; ok is false for any other
// data (an event someone else published on the topic).
func parsePayload(b []byte) (p payload, ok bool) {
	return parseMarked(b, payloadStep, payloadSeq, payloadSent, '}')
}

// parseMarked reads a payload written as the three prefixes, each followed
// by its number, then end or a comma.
func parseMarked(b []byte, stepPrefix, seqPrefix, sentPrefix string, end byte) (p payload, ok bool) {
	var step, seq, sent uint64
	if b, ok = cutNumber(b, stepPrefix, &step); !ok {
		return p, false
	}
	if b, ok = cutNumber(b, seqPrefix, &seq); !ok {
		return p, false
	}
	if b, ok = cutNumber(b, sentPrefix, &sent); !ok {
		return p, false
	}
	if len(b) == 0 || (b[0] != end && b[0] != ',') {
		return p, false
	}
	return payload{step: int(step), seq: seq, sent: int64(sent)}, step < 1<<31 && sent < 1<<63
}

// cutNumber strips prefix and the decimal number after it from b.
func cutNumber(b []byte, prefix string, n *uint64) ([]byte, bool) {
	b, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return nil, false
	}
	i := 0
	var v uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return nil, false
		}
		v = v*10 + d
	}
	if i == 0 || i > 20 {
		return nil, false
	}
	*n = v
	return b[i:], true
}

package sse_test

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds a second, deliberately naive decoder: a line-by-line
// transcription of the standard's algorithms on a fully buffered stream,
// with none of the streaming, limits or fast paths of sse.Decoder. The
// fuzz tests compare the two.

// refResult is what the reference decoder observes, plus the sizes that
// the decoder's limits are about.
type refResult struct {
	decoded
	maxEventSize int // largest len(data)-1+len(type) after any field line
}

// refDecode decodes a whole stream (WHATWG HTML, "Parsing an event stream"
// and "Interpreting an event stream").
func refDecode(stream []byte) refResult {
	text := refUTF8Decode(stream)
	var (
		r                          refResult
		data, eventType, lastIDBuf string
		blockRetry                 time.Duration
		hasData                    bool
	)
	for {
		end := strings.IndexAny(text, "\r\n")
		if end < 0 {
			break // the stream ended without ending the line: discarded
		}
		line := text[:end]
		if text[end] == '\r' && end+1 < len(text) && text[end+1] == '\n' {
			end++
		}
		text = text[end+1:]

		if line == "" { // dispatch
			r.LastID = lastIDBuf
			retry := blockRetry
			blockRetry = 0
			if !hasData {
				eventType = ""
				continue
			}
			r.Events = append(r.Events, event{lastIDBuf, eventType, strings.TrimSuffix(data, "\n"), retry})
			data, eventType, hasData = "", "", false
			continue
		}
		if line[0] == ':' {
			r.Comments = append(r.Comments, strings.TrimPrefix(line[1:], " "))
			continue
		}
		name, value := line, ""
		if i := strings.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], strings.TrimPrefix(line[i+1:], " ")
		}
		switch name {
		case "event":
			eventType = value
		case "data":
			data += value + "\n"
			hasData = true
		case "id":
			if !strings.Contains(value, "\x00") {
				lastIDBuf = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				blockRetry = refRetry(value)
				r.Retry = blockRetry
			}
		default:
			continue
		}
		r.maxEventSize = max(r.maxEventSize, len(data)-1+len(eventType))
	}
	return r
}

func refRetry(digits string) time.Duration {
	ms, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// refUTF8Decode is the WHATWG Encoding standard's "UTF-8 decode": strip one
// BOM, then run the UTF-8 decoder with replacement, byte by byte.
func refUTF8Decode(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	var out strings.Builder
	var codePoint rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(b); {
		c := b[i]
		if needed == 0 {
			switch {
			case c <= 0x7F:
				out.WriteByte(c)
			case 0xC2 <= c && c <= 0xDF:
				needed, codePoint = 1, rune(c&0x1F)
			case 0xE0 <= c && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				}
				if c == 0xED {
					upper = 0x9F
				}
				needed, codePoint = 2, rune(c&0xF)
			case 0xF0 <= c && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				}
				if c == 0xF4 {
					upper = 0x8F
				}
				needed, codePoint = 3, rune(c&0x7)
			default:
				out.WriteRune(utf8.RuneError)
			}
			i++
			continue
		}
		if c < lower || c > upper {
			// The byte is not consumed: it is read again as a new start.
			codePoint, needed, seen = 0, 0, 0
			lower, upper = 0x80, 0xBF
			out.WriteRune(utf8.RuneError)
			continue
		}
		lower, upper = 0x80, 0xBF
		codePoint = codePoint<<6 | rune(c&0x3F)
		seen++
		i++
		if seen == needed {
			out.WriteRune(codePoint)
			codePoint, needed, seen = 0, 0, 0
		}
	}
	if needed != 0 {
		out.WriteRune(utf8.RuneError)
	}
	return out.String()
}

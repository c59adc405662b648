package bench

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON transports' messages are read with the few functions below
// rather than a decoder: a WebSocket event or a poll answer is walked once,
// field by field, and only the strings the bench uses (an event's id and
// data, an answer's cursor) are unescaped. At 200,000 deliveries a second a
// decoder's reflection and allocations would cost the load generator more
// CPU than the hub it measures. They accept any JSON (whitespace, fields in
// any order, unknown fields) but check only what they read: a message they
// misread shows as a foreign event.

// members walks the members of one JSON object.
type members struct {
	b    []byte
	i    int
	done bool
	bad  bool // b is not a well-formed object
}

// objectMembers starts a walk of the object at the start of b.
func objectMembers(b []byte) members {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return members{done: true, bad: true}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return members{b: b, i: i + 1, done: true}
	}
	return members{b: b, i: i}
}

// next returns the next member: its key still escaped (the keys the bench
// looks for have nothing to escape) and its raw value (a string with its
// quotes). ok is false at the end of the object or at malformed input.
func (m *members) next() (key, value []byte, ok bool) {
	if m.done {
		return nil, nil, false
	}
	b, i := m.b, m.i
	kEnd := skipString(b, i)
	if kEnd < 0 {
		return m.fail()
	}
	key = b[i+1 : kEnd-1]
	i = skipSpace(b, kEnd)
	if i >= len(b) || b[i] != ':' {
		return m.fail()
	}
	vStart := skipSpace(b, i+1)
	vEnd := skipValue(b, vStart)
	if vEnd < 0 {
		return m.fail()
	}
	i = skipSpace(b, vEnd)
	switch {
	case i < len(b) && b[i] == '}':
		m.i, m.done = i+1, true
	case i < len(b) && b[i] == ',':
		m.i = skipSpace(b, i+1)
	default:
		return m.fail()
	}
	return key, b[vStart:vEnd], true
}

func (m *members) fail() ([]byte, []byte, bool) {
	m.done, m.bad = true, true
	return nil, nil, false
}

// elements walks the elements of one JSON array.
type elements struct {
	b    []byte
	i    int
	done bool
	bad  bool
}

// arrayElements starts a walk of the array at the start of b.
func arrayElements(b []byte) elements {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return elements{done: true, bad: true}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return elements{b: b, i: i + 1, done: true}
	}
	return elements{b: b, i: i}
}

// next returns the next raw element; ok is false at the end of the array
// or at malformed input.
func (e *elements) next() (value []byte, ok bool) {
	if e.done {
		return nil, false
	}
	b, start := e.b, e.i
	end := skipValue(b, start)
	if end < 0 {
		e.done, e.bad = true, true
		return nil, false
	}
	i := skipSpace(b, end)
	switch {
	case i < len(b) && b[i] == ']':
		e.i, e.done = i+1, true
	case i < len(b) && b[i] == ',':
		e.i = skipSpace(b, i+1)
	default:
		e.done, e.bad = true, true
		return nil, false
	}
	return b[start:end], true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
// Objects and arrays are skipped by counting brackets outside strings.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := skipString(b, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null.
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// appendUnquoted appends the JSON string value v (with its quotes) to dst,
// unescaped; ok is false if v is not a string.
func appendUnquoted(dst, v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return dst, false
	}
	s := v[1 : len(v)-1]
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:i]...)
		if i+1 >= len(s) {
			return dst, false
		}
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s)
			if !ok {
				return dst, false
			}
			s = s[4:]
			if utf16.IsSurrogate(r) && len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
				if r2, ok := hex4(s[2:]); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r, s = d, s[6:]
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendQuoted appends s to dst as a JSON string. The bench's payloads are
// ASCII; anything else passes through as the UTF-8 it is.
func appendQuoted(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

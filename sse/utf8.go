package sse

import "unicode/utf8"

// appendUTF8 appends src to dst decoded the way the WHATWG Encoding
// standard's "UTF-8 decode" does, which is what the event stream parser
// is defined on: well-formed UTF-8 is copied as is and every maximal
// ill-formed subsequence becomes one U+FFFD. (Go's range loop would instead
// replace byte by byte, and browsers would see fewer U+FFFD than we do.)
//
// The decoder calls it on whole lines. Line endings are ASCII and never
// continue a multi-byte sequence, so a sequence split by a line ending is
// ill-formed whether the stream is decoded before or after it is split
// into lines: decoding per line gives the same text as decoding the stream.
func appendUTF8(dst, src []byte) []byte {
	if utf8.Valid(src) {
		return append(dst, src...)
	}
	start := 0
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r != utf8.RuneError || size > 1 { // size 3 is a literal U+FFFD
			i += size
			continue
		}
		dst = append(dst, src[start:i]...)
		dst = utf8.AppendRune(dst, utf8.RuneError)
		i += illFormedLen(src[i:])
		start = i
	}
	return append(dst, src[start:]...)
}

// illFormedLen returns the length of the maximal ill-formed subsequence at
// the start of b, which does not start with a well-formed sequence: the lead
// byte and the continuation bytes that the Encoding standard's UTF-8 decoder
// accepts before it finds the error. The bounds of the first continuation
// byte exclude overlong forms, surrogates and code points past U+10FFFF.
func illFormedLen(b []byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default: // a continuation byte, C0, C1 or F5..FF: never a lead byte
		return 1
	}
	n := 1
	for n <= need && n < len(b) && lo <= b[n] && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}

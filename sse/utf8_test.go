package sse

import (
	"strings"
	"testing"
)

// TestAppendUTF8 checks the replacement of ill-formed sequences against the
// "U+FFFD substitution of maximal subparts" practice that the WHATWG UTF-8
// decoder follows (Unicode chapter 3, table 3-8 and its neighbours).
func TestAppendUTF8(t *testing.T) {
	r := func(n int) string { return strings.Repeat("\uFFFD", n) }
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ASCII", "plain ASCII"},
		{"é😀\uFFFD", "é😀\uFFFD"},
		{"\x80", r(1)},
		{"é\xFF\uFFFDü", "é" + r(2) + "ü"}, // well-formed around ill-formed
		{"\xBF\x80", r(2)},
		{"\xC0\xAF", r(2)},                   // overlong lead bytes are never leads
		{"\xC1\xBF", r(2)},                   //
		{"\xE0\x80\xAF", r(3)},               // overlong: E0 needs A0..BF next
		{"\xE0\xA0", r(1)},                   // truncated: one for the subpart
		{"\xE0\xA0A", r(1) + "A"},            //
		{"\xED\xA0\x80", r(3)},               // surrogate: ED needs 80..9F next
		{"\xED\x9F\xBF", "\uD7FF"},           // last code point before surrogates
		{"\xF0\x80\x80\x80", r(4)},           // overlong 4-byte form
		{"\xF0\x90\x80", r(1)},               // truncated 4-byte form
		{"\xF4\x90\x80\x80", r(4)},           // past U+10FFFF
		{"\xF4\x8F\xBF\xBF", "\U0010FFFF"},   // U+10FFFF itself
		{"\xF5\x80", r(2)},                   // F5..FF are never leads
		{"\xFF\xFE", r(2)},                   //
		{"a\xF1\x80\x80b", "a" + r(1) + "b"}, // three of four bytes
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", // Unicode's example
			"a" + r(1) + r(1) + r(1) + "b" + r(1) + "c" + r(2) + "d"},
	}
	for _, tt := range tests {
		if got := string(appendUTF8([]byte("^"), []byte(tt.in))); got != "^"+tt.want {
			t.Errorf("appendUTF8(%q) = %+q, want %+q", tt.in, got, "^"+tt.want)
		}
	}
}

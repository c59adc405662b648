package tree

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxKeyBytes is the longest key Firebase accepts, in bytes of UTF-8.
const MaxKeyBytes = 768

// ValidKey reports whether k may name a child: Firebase's key rules. A key
// is non-empty valid UTF-8 of at most [MaxKeyBytes] bytes and holds none of
// . $ # [ ] / nor an ASCII control character (0x00-0x1F, 0x7F). The error is
// an [*Error].
func ValidKey(k string) error {
	switch {
	case k == "":
		return errorf("Invalid key: keys must not be empty")
	case len(k) > MaxKeyBytes:
		return errorf("Invalid key " + quoteKey(k) + ": longer than 768 bytes")
	case !utf8.ValidString(k):
		return errorf("Invalid key " + quoteKey(k) + ": not valid UTF-8")
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c < 0x20 || c == 0x7f:
			return errorf("Invalid key " + quoteKey(k) + `: keys must not contain ASCII control characters`)
		case c == '.' || c == '$' || c == '#' || c == '[' || c == ']' || c == '/':
			return errorf("Invalid key " + quoteKey(k) + `: keys must not contain ".", "$", "#", "[", "]" or "/"`)
		}
	}
	return nil
}

// quoteKey quotes k for an error message, shortened so that a hostile
// 16 MiB key does not become a 16 MiB message.
func quoteKey(k string) string {
	const limit = 64
	if len(k) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		return strconv.Quote(k[:cut]) + "…"
	}
	return strconv.Quote(k)
}

// CompareKeys orders keys as Firebase does: keys that read as 32-bit
// integers first, by numeric value, then all others by their bytes. It
// returns -1, 0 or +1, and 0 only when a == b.
//
// "Integers" are those of the Firebase SDKs: an optional minus sign and
// digits, at most 10 of them after leading zeros, in the int32 range; so
// "-5", "7" and "007" are integers, "1e3" and "2147483648" are not. Keys
// with the same value ("7", "07") are ordered shorter first, and then by
// bytes, which keeps the order total.
func CompareKeys(a, b string) int {
	if a == b {
		return 0
	}
	ai, aInt := intKey(a)
	bi, bInt := intKey(b)
	switch {
	case aInt && bInt:
		if ai != bi {
			return cmpInt(ai, bi)
		}
		if len(a) != len(b) {
			return cmpInt(int64(len(a)), int64(len(b)))
		}
		return strings.Compare(a, b)
	case aInt:
		return -1
	case bInt:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

// intKey reads k as the Firebase SDKs' integer key (/^-?(0*)\d{1,10}$/,
// then in the int32 range). It runs on every comparison in every object, so
// it rejects the usual named key at its first byte.
func intKey(k string) (int64, bool) {
	s := k
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if len(s) > 10 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return v, true
}

// arrayIndex reads k as an array index for rendering: a non-negative
// integer without leading zeros (/^(0|[1-9]\d*)$/, the SDKs' test), with
// no 32-bit bound; an index too large for an int64 is not one.
func arrayIndex(k string) (int64, bool) {
	if k == "" || len(k) > 18 || (k[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var v int64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

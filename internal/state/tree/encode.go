package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// Format says how [Node.AppendJSON] and [Node.WriteJSON] render a value:
// the REST API's print and shallow parameters.
type Format struct {
	// Pretty indents as Firebase's print=pretty does: an object's entries
	// each on a line of their own, indented two spaces per level, written
	// "key" : value; arrays on one line, [ 1, 2 ].
	Pretty bool
	// Shallow renders an object's children as true, whatever they hold
	// (shallow=true); a leaf is rendered as itself.
	Shallow bool
}

// AppendJSON appends the JSON of n to dst and returns the extended slice:
// null for nil, leaves as JSON values, objects in key order ([CompareKeys]).
//
// An object is rendered as an array when Firebase would: when all its keys
// are array indices ("0", "1", ..., no leading zeros) and the largest, max,
// is less than twice the number of keys; the gaps become null. So {"0": "a",
// "1": "b"} is ["a","b"], {"1": "b"} is [null,"b"], and {"2": "c", "4": "e"}
// stays an object. Numbers are written as JavaScript writes them, integers
// without an exponent below 1e21; strings are escaped as JSON.
func (n *Node) AppendJSON(dst []byte, f Format) []byte {
	e := encoder{buf: dst, f: f}
	e.top(n)
	return e.buf
}

// WriteJSON writes the JSON of n to w as AppendJSON renders it, in chunks
// of about 32 KiB as it goes, so that a large tree is never held in memory
// twice. It returns the first error from w.
func (n *Node) WriteJSON(w io.Writer, f Format) error {
	e := encoder{buf: make([]byte, 0, chunkSize+1024), f: f, w: w}
	e.top(n)
	e.flush()
	return e.err
}

// ETag returns the entity tag of n's value for the REST API's conditional
// requests: the base64 of the SHA-1 of its compact JSON, or "null_etag" for
// null, the tag Firebase gives an absent location. It is computed on first
// use and kept in the node.
func (n *Node) ETag() string {
	if n == nil {
		return "null_etag"
	}
	if tag := n.etag.Load(); tag != nil {
		return *tag
	}
	h := sha1.New()
	_ = n.WriteJSON(h, Format{}) // a hash.Hash never fails
	tag := base64.StdEncoding.EncodeToString(h.Sum(nil))
	// Racing readers compute the same tag; whichever store lands is right.
	n.etag.Store(&tag)
	return tag
}

const chunkSize = 32 << 10

// encoder renders nodes into buf, handing full chunks to w when it has one.
type encoder struct {
	buf []byte
	f   Format
	w   io.Writer
	err error
}

func (e *encoder) flush() {
	if e.w == nil || len(e.buf) == 0 || e.err != nil {
		return
	}
	_, e.err = e.w.Write(e.buf)
	e.buf = e.buf[:0]
}

func (e *encoder) maybeFlush() {
	if e.w != nil && len(e.buf) >= chunkSize {
		e.flush()
	}
}

func (e *encoder) top(n *Node) {
	if e.f.Shallow && n != nil && n.kind == kindObject {
		e.object(n, 0, true)
		return
	}
	e.value(n, 0)
}

// value renders n, nesting being the number of enclosing objects (which is
// what pretty printing indents by; arrays do not indent).
func (e *encoder) value(n *Node, nesting int) {
	if e.err != nil {
		return
	}
	switch {
	case n == nil:
		e.buf = append(e.buf, "null"...)
	case n.kind == kindString:
		e.buf = appendString(e.buf, n.str)
	case n.kind == kindNumber:
		e.buf = appendNumber(e.buf, n.num)
	case n.kind == kindBool:
		e.buf = strconv.AppendBool(e.buf, n.b)
	case n.kind == kindServer:
		e.buf = append(e.buf, '{')
		e.key(".sv", nesting+1)
		e.value(n.sv, nesting+1)
		e.closeObject(nesting)
	default:
		if n.isArray() {
			e.array(n, nesting)
		} else {
			e.object(n, nesting, false)
		}
	}
	e.maybeFlush()
}

func (e *encoder) object(n *Node, nesting int, shallow bool) {
	e.buf = append(e.buf, '{')
	first := true
	n.kids.Ascend(func(en entry) bool {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.key(en.key, nesting+1)
		if shallow {
			e.buf = append(e.buf, "true"...)
		} else {
			e.value(en.node, nesting+1)
		}
		return e.err == nil
	})
	e.closeObject(nesting)
}

// key writes an object key with its separator, on a line of its own when
// pretty.
func (e *encoder) key(k string, nesting int) {
	if e.f.Pretty {
		e.newline(nesting)
	}
	e.buf = appendString(e.buf, k)
	if e.f.Pretty {
		e.buf = append(e.buf, " : "...)
	} else {
		e.buf = append(e.buf, ':')
	}
}

func (e *encoder) closeObject(nesting int) {
	if e.f.Pretty {
		e.newline(nesting)
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) newline(nesting int) {
	e.buf = append(e.buf, '\n')
	for range nesting {
		e.buf = append(e.buf, "  "...)
	}
}

func (e *encoder) array(n *Node, nesting int) {
	e.buf = append(e.buf, '[')
	if e.f.Pretty {
		e.buf = append(e.buf, ' ')
	}
	var next int64
	sep := func() {
		if next > 0 {
			e.buf = append(e.buf, ',')
			if e.f.Pretty {
				e.buf = append(e.buf, ' ')
			}
		}
	}
	n.kids.Ascend(func(en entry) bool {
		i, _ := arrayIndex(en.key)
		for ; next < i; next++ {
			sep()
			e.buf = append(e.buf, "null"...)
		}
		sep()
		e.value(en.node, nesting)
		next++
		return e.err == nil
	})
	if e.f.Pretty {
		e.buf = append(e.buf, ' ')
	}
	e.buf = append(e.buf, ']')
}

// isArray reports whether object n renders as an array: the Firebase SDKs'
// test, all keys indices and the largest less than twice their number.
func (n *Node) isArray() bool {
	count := int64(n.kids.Len())
	// Indices sort numerically before every other key, so if all keys are
	// indices the largest is last, and one look rules out most objects.
	last, _ := n.kids.Max()
	largest, ok := arrayIndex(last.key)
	if !ok || largest >= 2*count {
		return false
	}
	all := true
	n.kids.Ascend(func(en entry) bool {
		_, all = arrayIndex(en.key)
		return all
	})
	return all
}

// appendNumber writes f as JavaScript's Number.prototype.toString does,
// which is what Firebase's JSON holds: the shortest digits that read back
// as f, with an exponent only below 1e-6 or from 1e21.
func appendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// f = 0.digits × 10^n, digits as few as read back exactly.
	var tmp [32]byte
	sci := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d.ddde±xx
	ePos := len(sci) - 1
	for sci[ePos] != 'e' {
		ePos--
	}
	exp, _ := strconv.Atoi(string(sci[ePos+1:]))
	digits := make([]byte, 0, 17)
	digits = append(digits, sci[0])
	if ePos > 1 {
		digits = append(digits, sci[2:ePos]...)
	}
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, "0."...)
		for range -n {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaping what JSON requires (and
// invalid UTF-8, which only a String built in Go can hold, as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package tree

import (
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/btree"
)

// Client-facing messages, in the Firebase REST API's words where it has some.
var (
	errSyntax   = errorf("Invalid data; couldn't parse JSON object, array, or value.")
	errTooLarge = errorf("Data to write exceeds the maximum size that can be modified with a single request.")
	errSVAlone  = errorf(`Invalid data; a server value {".sv": ...} must be the only key of its object`)
	errUTF8     = errorf("Invalid data; strings must be valid UTF-8")
)

func errTooDeep(lim Limits) error {
	return errorf("Invalid data; data nested deeper than " + strconv.Itoa(lim.MaxDepth) + " levels")
}

func errPriority(key string) error {
	return errorf("Invalid data; priorities are not supported (key " + strconv.Quote(key) + ")")
}

// Parse reads a JSON value to write: the body of a PUT or POST.
//
// Objects become nodes keyed as written, arrays objects keyed "0", "1", ...;
// null children are dropped, and an object or array left with no children
// is null (a nil node and a nil error). Numbers are float64s, as Firebase
// keeps them. Keys must pass [ValidKey], except {".sv": ...}, a server value
// that [Resolve] must replace before the value is stored; ".priority" and
// ".value" are refused, since Herald has no priorities.
//
// Parse refuses malformed JSON, data after the value, duplicate keys in an
// object, strings that are not valid UTF-8, numbers beyond float64, values
// deeper than lim.MaxDepth and bodies larger than lim.MaxBytes. It never
// recurses, so hostile nesting costs no stack; it stops at the first level
// too deep. Errors are [*Error]s.
func Parse(data []byte, lim Limits) (*Node, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, errTooLarge
	}
	p := parser{data: data, lim: lim}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// parser reads JSON from data with an explicit stack of open containers.
type parser struct {
	data  []byte
	pos   int
	lim   Limits
	stack []frame
	buf   []byte // unescaped string bytes
}

// frame is an open object or array.
type frame struct {
	array   bool
	entries []entry // children read so far, nulls included (for duplicates)
	key     string  // object: the key whose value is being read
	index   int     // array: index of the next element
	depth   int     // levels below the write location, this one included
	inSV    bool    // inside a server value's payload, where depth is not data
	sv      bool    // the object is {".sv": ...}
	deep    bool    // one level too deep: allowed only as a server value
}

// hardDepthSlack bounds the stack whatever the data: a server value nests
// its payload a level or two below the depth its location counts, no more.
const hardDepthSlack = 4

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the value.
func (p *parser) end() error {
	p.ws()
	if p.pos != len(p.data) {
		return errSyntax
	}
	return nil
}

// value reads one JSON value whose location is base levels below the write
// location, and leaves pos after it.
func (p *parser) value(base int) (*Node, error) {
	bottom := len(p.stack)
	for {
		// Read a value, or open a container and read its first element.
		p.ws()
		if p.pos >= len(p.data) {
			return nil, errSyntax
		}
		var v *Node
		var err error
		switch c := p.data[p.pos]; {
		case c == '{' || c == '[':
			if err := p.open(c == '[', base, bottom); err != nil {
				return nil, err
			}
			p.ws()
			if p.pos < len(p.data) && p.data[p.pos] == closer(c) {
				p.pos++
				v, err = p.close()
				break
			}
			if c == '{' {
				if err := p.key(); err != nil {
					return nil, err
				}
			}
			continue
		case c == '"':
			var s string
			if s, err = p.str(); err == nil {
				v = String(s)
			}
		case c == '-' || (c >= '0' && c <= '9'):
			v, err = p.number()
		default:
			v, err = p.literal()
		}
		if err != nil {
			return nil, err
		}
		// Hand v to its container; close every container it completes.
		for {
			if len(p.stack) == bottom {
				return v, nil
			}
			f := &p.stack[len(p.stack)-1]
			if f.array {
				f.entries = append(f.entries, entry{strconv.Itoa(f.index), v})
				f.index++
			} else {
				f.entries = append(f.entries, entry{f.key, v})
			}
			p.ws()
			if p.pos >= len(p.data) {
				return nil, errSyntax
			}
			c := p.data[p.pos]
			p.pos++
			if c == ',' {
				if !f.array {
					if err := p.key(); err != nil {
						return nil, err
					}
				}
				break
			}
			if (f.array && c != ']') || (!f.array && c != '}') {
				return nil, errSyntax
			}
			if v, err = p.close(); err != nil {
				return nil, err
			}
		}
	}
}

func closer(open byte) byte {
	if open == '[' {
		return ']'
	}
	return '}'
}

// open pushes a container, checking its depth.
func (p *parser) open(array bool, base, bottom int) error {
	p.pos++
	f := frame{array: array, depth: base + 1}
	if len(p.stack) > bottom {
		parent := &p.stack[len(p.stack)-1]
		f.depth = parent.depth + 1
		f.inSV = parent.inSV || parent.sv
	}
	if len(p.stack)-bottom+base >= p.lim.MaxDepth+hardDepthSlack {
		return errTooDeep(p.lim)
	}
	if !f.inSV && f.depth > p.lim.MaxDepth {
		// An object one level too deep may still be a server value, a leaf:
		// its first key decides.
		if array || f.depth > p.lim.MaxDepth+1 {
			return errTooDeep(p.lim)
		}
		f.deep = true
	}
	// Reuse the entries array of the frame that last stood here: close
	// copies entries into the B-tree, so the array is free again.
	if n := len(p.stack); n < cap(p.stack) {
		f.entries = p.stack[:n+1][n].entries[:0]
	}
	p.stack = append(p.stack, f)
	return nil
}

// key reads an object key and its colon into the top frame.
func (p *parser) key() error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return errSyntax
	}
	k, err := p.str()
	if err != nil {
		return err
	}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return errSyntax
	}
	p.pos++
	f := &p.stack[len(p.stack)-1]
	switch {
	case k == ".sv":
		if len(f.entries) > 0 {
			return errSVAlone
		}
		f.sv = true
	case f.sv:
		return errSVAlone
	case k == ".priority" || k == ".value":
		return errPriority(k)
	case f.deep:
		return errTooDeep(p.lim)
	default:
		if err := ValidKey(k); err != nil {
			return err
		}
	}
	f.key = k
	return nil
}

// close pops the top container and returns its node.
func (p *parser) close() (*Node, error) {
	f := &p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	// Drop the references the reused array would keep alive.
	defer clear(f.entries)
	if f.sv {
		return serverValue(f.entries[0].node), nil
	}
	if !f.array {
		// Duplicates are found sorted; arrays' keys are sorted and unique.
		slices.SortFunc(f.entries, func(a, b entry) int { return CompareKeys(a.key, b.key) })
		for i := 1; i < len(f.entries); i++ {
			if f.entries[i].key == f.entries[i-1].key {
				return nil, errorf("Invalid data; duplicate key " + quoteKey(f.entries[i].key))
			}
		}
	}
	var kids *btree.BTreeG[entry]
	for _, e := range f.entries {
		if e.node == nil {
			continue
		}
		if kids == nil {
			kids = btree.NewWithFreeListG(degree, lessEntry, freeList)
		}
		kids.ReplaceOrInsert(e)
	}
	if kids == nil {
		return nil, nil
	}
	return newObject(kids), nil
}

// literal reads true, false or null.
func (p *parser) literal() (*Node, error) {
	rest := p.data[p.pos:]
	switch {
	case hasPrefix(rest, "true"):
		p.pos += 4
		return Bool(true), nil
	case hasPrefix(rest, "false"):
		p.pos += 5
		return Bool(false), nil
	case hasPrefix(rest, "null"):
		p.pos += 4
		return nil, nil
	}
	return nil, errSyntax
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// number reads a JSON number (RFC 8259's grammar, strictly).
func (p *parser) number() (*Node, error) {
	d, start := p.data, p.pos
	i := start
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		return nil, errSyntax
	}
	simple := i-start <= 16 // an integer exact in a float64, read directly
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return nil, errSyntax
		}
		simple = false
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, errSyntax
		}
		simple = false
	}
	p.pos = i
	text := d[start:i]
	if simple {
		var v int64
		for _, c := range text {
			if c != '-' {
				v = v*10 + int64(c-'0')
			}
		}
		if text[0] == '-' {
			v = -v
		}
		return Number(float64(v)), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		// The grammar was checked: only a magnitude beyond float64 is left.
		return nil, errorf("Invalid data; number out of range: " + quoteKey(string(text)))
	}
	return Number(f), nil
}

// str reads a JSON string, pos at its opening quote.
func (p *parser) str() (string, error) {
	d := p.data
	i := p.pos + 1
	// The common string: no escapes, ASCII or valid UTF-8, copied once.
	start, ascii := i, true
	for i < len(d) && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20 {
		if d[i] >= utf8.RuneSelf {
			ascii = false
		}
		i++
	}
	if i < len(d) && d[i] == '"' {
		if !ascii && !utf8.Valid(d[start:i]) {
			return "", errUTF8
		}
		p.pos = i + 1
		return string(d[start:i]), nil
	}
	b := append(p.buf[:0], d[start:i]...)
	for {
		if i >= len(d) || d[i] < 0x20 {
			return "", errSyntax
		}
		switch c := d[i]; c {
		case '"':
			p.buf = b
			if !utf8.Valid(b) {
				return "", errUTF8
			}
			p.pos = i + 1
			return string(b), nil
		case '\\':
			i++
			if i >= len(d) {
				return "", errSyntax
			}
			switch e := d[i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d, i+1)
				if !ok {
					return "", errSyntax
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; a lone half becomes U+FFFD, as
					// encoding/json does, so that strings stay valid UTF-8.
					r2, ok := rune(0), false
					if i+2 < len(d) && d[i+1] == '\\' && d[i+2] == 'u' {
						r2, ok = hex4(d, i+3)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", errSyntax
			}
			i++
		default:
			b = append(b, c)
			i++
		}
	}
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

package selector

import (
	"fmt"
	"strings"
)

// This file holds a reference RFC 6570 expander, written straight from the
// algorithm of RFC 6570 appendix A. Tests check it against the RFC's own
// examples, then use it to produce expansions that every template must
// match.

// A variable value is nil (undefined), a string, a list ([]string) or an
// associative array (an ordered []kv).
type kv struct{ key, value string }

func expand(parts []part, vars map[string]any) string {
	var b strings.Builder
	for _, p := range parts {
		if p.expr == nil {
			b.WriteString(p.literal)
			continue
		}
		expandExpression(&b, p.expr, vars)
	}
	return b.String()
}

func expandExpression(b *strings.Builder, e *expression, vars map[string]any) {
	op := e.op
	started := false
	for _, v := range e.vars {
		val := vars[v.name]
		switch x := val.(type) {
		case nil:
			continue
		case []string:
			if len(x) == 0 {
				continue
			}
		case []kv:
			if len(x) == 0 {
				continue
			}
		}
		if started {
			b.WriteString(op.sep)
		} else {
			b.WriteString(op.first)
			started = true
		}
		switch x := val.(type) {
		case string:
			if op.named {
				b.WriteString(v.name)
				if x == "" {
					b.WriteString(op.ifemp)
					continue
				}
				b.WriteByte('=')
			}
			if v.prefix > 0 {
				x = truncate(x, v.prefix)
			}
			b.WriteString(encode(x, op.reserved))
		case []string:
			for i, item := range x {
				writeItemSep(b, op, v, i)
				if v.explode && op.named {
					b.WriteString(v.name)
					if item == "" {
						b.WriteString(op.ifemp)
						continue
					}
					b.WriteByte('=')
				}
				b.WriteString(encode(item, op.reserved))
			}
		case []kv:
			for i, pair := range x {
				writeItemSep(b, op, v, i)
				if !v.explode {
					b.WriteString(encode(pair.key, op.reserved) + "," + encode(pair.value, op.reserved))
					continue
				}
				b.WriteString(encode(pair.key, op.reserved))
				if op.named && pair.value == "" {
					b.WriteString(op.ifemp)
					continue
				}
				b.WriteString("=" + encode(pair.value, op.reserved))
			}
		default:
			panic(fmt.Sprintf("variable %s: unsupported value %T", v.name, val))
		}
	}
}

// writeItemSep writes what precedes item i of a list or associative array:
// unexploded, "name=" before the first item of a named operator and ","
// between items; exploded, the operator's separator between items.
func writeItemSep(b *strings.Builder, op *operator, v varspec, i int) {
	switch {
	case !v.explode:
		if i == 0 && op.named {
			b.WriteString(v.name + "=")
		}
		if i > 0 {
			b.WriteByte(',')
		}
	case i > 0:
		b.WriteString(op.sep)
	}
}

// truncate keeps the first n characters of s.
func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// encode percent-encodes s for an operator that allows unreserved
// characters, plus reserved characters and pct-encoded triplets when
// reserved is true.
func encode(s string, reserved bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c) || strings.IndexByte("-._~", c) >= 0:
			b.WriteByte(c)
		case reserved && strings.IndexByte(reservedChars, c) >= 0:
			b.WriteByte(c)
		case reserved && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteString(s[i : i+3])
			i += 2
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fuzzVars assigns a value to every variable of parts, its shape chosen by
// two bits of shape per variable: undefined, string, list or associative
// array. Variables with a prefix modifier are strings, as RFC 6570 defines
// prefixes for strings only.
func fuzzVars(parts []part, val string, shape uint64) map[string]any {
	val = strings.ToValidUTF8(val, "?")
	vars := map[string]any{}
	prefixed := map[string]bool{}
	for _, p := range parts {
		if p.expr == nil {
			continue
		}
		for _, v := range p.expr.vars {
			prefixed[v.name] = prefixed[v.name] || v.prefix > 0
			if _, seen := vars[v.name]; seen {
				continue
			}
			var x any
			switch shape & 3 {
			case 1:
				x = val
			case 2:
				x = []string{val, "", val + "/é"}
			case 3:
				x = []kv{{val, val}, {"k", ""}}
			}
			shape = shape>>2 | shape<<62
			vars[v.name] = x
		}
	}
	for name, isPrefixed := range prefixed {
		if _, isString := vars[name].(string); isPrefixed && vars[name] != nil && !isString {
			vars[name] = val
		}
	}
	return vars
}

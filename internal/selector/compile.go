package selector

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// Characters of RFC 3986 that expansions write unencoded, besides ALPHA
// and DIGIT.
const (
	unreservedChars = "-._~"
	reservedChars   = ":/?#[]@!$&'()*+,;="
)

const (
	hexDigit   = `[0-9A-Fa-f]`
	pctEncoded = `%` + hexDigit + hexDigit
	// pctChar is the percent-encoding of one character: its UTF-8 sequence
	// of one to four octets, the later ones being continuation octets.
	pctChar = pctEncoded + `(?:%[89ABab]` + hexDigit + `){0,3}`
)

// charClass returns a regexp class of ALPHA, DIGIT and chars.
func charClass(chars string) string {
	var b strings.Builder
	b.WriteString(`[0-9A-Za-z`)
	for i := 0; i < len(chars); i++ {
		b.WriteByte('\\') // every ASCII punctuation may be escaped
		b.WriteByte(chars[i])
	}
	b.WriteByte(']')
	return b.String()
}

// maxExactPrefix is the longest prefix modifier ("{var:N}") whose length is
// enforced. A bounded repetition compiles to one copy of its body per
// repetition, so a longer prefix is matched as if it were unbounded; Mercure
// itself never enforces prefix lengths.
const maxExactPrefix = 64

// maxInsts bounds the compiled matcher of one template (a few hundred KiB at
// most), since selectors come from clients.
const maxInsts = 4096

// compileTemplate builds the selector of template raw, whose parts hold at
// least one expression. Literal text before the first expression and after
// the last one becomes the selector's prefix and suffix, compared directly;
// what lies between them is matched by a regexp, or by a charRun when it is
// a single expression simple enough (the common "{id}" or "{+path}").
func compileTemplate(raw string, parts []part) (*Selector, error) {
	m := &matcher{}
	sel := &Selector{raw: raw, kind: kindTemplate, tmpl: m}
	var middle []part
	m.prefix, middle, m.suffix = splitLiterals(parts)
	pattern, run := middlePattern(middle)
	if run != nil {
		m.run = run
		return sel, nil
	}

	// Measure the program before keeping it: the size of a pattern's text
	// says little about its compiled size once repetitions are unrolled.
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, raw, err)
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, raw, err)
	}
	if n := len(prog.Inst); n > maxInsts {
		return nil, fmt.Errorf("%w %q: template too complex (%d instructions, limit %d)", ErrInvalid, raw, n, maxInsts)
	}
	m.cost = len(prog.Inst)
	if m.re, err = regexp.Compile(pattern); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, raw, err)
	}
	return sel, nil
}

// splitLiterals splits parts into the literal before the first expression,
// the parts from the first expression to the last, and the literal after.
func splitLiterals(parts []part) (prefix string, middle []part, suffix string) {
	middle = parts
	if middle[0].expr == nil {
		prefix, middle = middle[0].literal, middle[1:]
	}
	if last := len(middle) - 1; middle[last].expr == nil {
		suffix, middle = middle[last].literal, middle[:last]
	}
	return prefix, middle, suffix
}

// middlePattern returns the anchored regexp of parts, and the equivalent
// charRun when parts is one expression that has one.
func middlePattern(parts []part) (pattern string, run *charRun) {
	var b strings.Builder
	b.WriteString(`\A`)
	for _, p := range parts {
		if p.expr == nil {
			b.WriteString(regexp.QuoteMeta(p.literal))
			continue
		}
		exprPattern, exprRun := p.expr.compile()
		b.WriteString(exprPattern)
		if len(parts) == 1 {
			run = exprRun
		}
	}
	b.WriteString(`\z`)
	return b.String(), run
}

// A value is the regexp matching the expansion of one defined variable,
// without the first or separator string before it. When run is true, the
// regexp matches exactly the sequences of ALPHA, DIGIT, chars and
// percent-encoded octets.
type value struct {
	pattern string
	run     bool
	chars   string
}

func runValue(chars string) value {
	return value{pattern: `(?:` + charClass(chars) + `|` + pctEncoded + `)*`, run: true, chars: chars}
}

// compile returns a regexp matching every expansion of e: the empty string
// (no variable defined) or, for the defined variables taken in order, the
// operator's first string, then each variable's value separated by the
// operator's separator (RFC 6570 section 3.2.1). Variables are typeless in a
// template, so each one may be a string, a list or an associative array; a
// variable's pattern accepts all three.
//
// When every variable's value is the same run of characters that includes
// the separator, any choice of defined variables reads as one value; compile
// then also returns an equivalent matcher that needs no regexp.
func (e *expression) compile() (pattern string, fast *charRun) {
	op := e.op
	values := make([]value, len(e.vars))
	merge := true
	for i, v := range e.vars {
		values[i] = op.value(v)
		merge = merge && values[i].run && values[i].chars == values[0].chars &&
			strings.Contains(values[i].chars, op.sep)
	}
	first, sep := regexp.QuoteMeta(op.first), regexp.QuoteMeta(op.sep)
	if merge {
		fast = newCharRun(op.first, values[0].chars)
		if op.first == "" {
			return values[0].pattern, fast // a run already matches ""
		}
		return `(?:` + first + values[0].pattern + `)?`, fast
	}
	var b strings.Builder
	if op.first == op.sep {
		for _, v := range values {
			b.WriteString(`(?:` + sep + v.pattern + `)?`)
		}
		return b.String(), nil
	}
	// The first defined variable follows op.first, the others op.sep.
	// With R(i) the defined variables from the i-th on, joined by sep:
	// R(n) = V(n) and R(i) = V(i) | (V(i) sep)? R(i+1), which keeps the
	// pattern linear in the number of variables.
	b.WriteString(`(?:` + first)
	for _, v := range values[:len(values)-1] {
		b.WriteString(`(?:` + v.pattern + `|(?:` + v.pattern + sep + `)?`)
	}
	b.WriteString(values[len(values)-1].pattern)
	b.WriteString(strings.Repeat(`)`, len(values)-1))
	b.WriteString(`)?`)
	return b.String(), nil
}

// value returns the pattern of one defined variable of an expression.
func (op *operator) value(v varspec) value {
	allowed := unreservedChars
	if op.reserved {
		allowed += reservedChars
	}
	if !op.named {
		switch {
		case v.prefix > 0:
			return value{pattern: op.prefixPattern(allowed, v.prefix, 0)}
		case v.explode:
			// List items joined by sep, or key=value pairs joined by sep.
			return runValue(allowed + "=" + op.sep)
		default:
			// A string, or list items (or keys and values) joined by ",".
			return runValue(allowed + ",")
		}
	}

	name := regexp.QuoteMeta(v.name)
	// An empty value is written as the name followed by ifemp: "x" for
	// ";", "x=" for "?" and "&".
	optional := func(value string) string {
		if op.ifemp == "" {
			return `(?:=` + value + `)?`
		}
		return `=` + value
	}
	switch {
	case v.prefix > 0:
		minimum := 0
		if op.ifemp == "" {
			minimum = 1
		}
		return value{pattern: name + optional(op.prefixPattern(allowed, v.prefix, minimum))}
	case v.explode:
		// name=item pairs for a list, key=value pairs for an associative
		// array: keys are arbitrary, so a pair is key=value.
		run := runValue(allowed).pattern
		pair := run + optional(run)
		return value{pattern: pair + `(?:` + regexp.QuoteMeta(op.sep) + pair + `)*`}
	default:
		return value{pattern: name + optional(runValue(allowed+",").pattern)}
	}
}

// prefixPattern matches a string value cut to at most n characters, each
// character written as itself or percent-encoded, and at least minimum.
func (op *operator) prefixPattern(allowed string, n, minimum int) string {
	unit := `(?:` + charClass(allowed) + `|` + pctChar + `)`
	if n > maxExactPrefix {
		if minimum > 0 {
			return unit + `+`
		}
		return unit + `*`
	}
	return unit + `{` + strconv.Itoa(minimum) + `,` + strconv.Itoa(n) + `}`
}

// charRun matches, without a regexp, the expansions of an expression that
// are the empty string or first followed by any run of allowed bytes and
// percent-encoded octets: most templates in practice ("{id}", "{+path}").
type charRun struct {
	first   string
	allowed [256]bool
}

func newCharRun(first, chars string) *charRun {
	r := &charRun{first: first}
	for c := range 256 {
		r.allowed[c] = isAlnum(byte(c))
	}
	for i := 0; i < len(chars); i++ {
		r.allowed[chars[i]] = true
	}
	return r
}

func (r *charRun) match(s string) bool {
	if s == "" {
		return true
	}
	s, ok := strings.CutPrefix(s, r.first)
	if !ok {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case r.allowed[c]:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

package selector

import (
	"fmt"
	"strings"
)

// An operator holds the expansion rules of one RFC 6570 expression operator
// (RFC 6570, appendix A).
type operator struct {
	first    string // written before the first defined variable
	sep      string // written between defined variables
	named    bool   // variables expand as name=value pairs
	ifemp    string // written after the name when the value is empty
	reserved bool   // values may hold reserved characters unencoded
}

var operators = map[byte]*operator{
	0:   {first: "", sep: ","},
	'+': {first: "", sep: ",", reserved: true},
	'#': {first: "#", sep: ",", reserved: true},
	'.': {first: ".", sep: "."},
	'/': {first: "/", sep: "/"},
	';': {first: ";", sep: ";", named: true},
	'?': {first: "?", sep: "&", named: true, ifemp: "="},
	'&': {first: "&", sep: "&", named: true, ifemp: "="},
}

// varspec is one variable of an expression with its modifier.
type varspec struct {
	name    string
	prefix  int // max-length of a prefix modifier; 0 when there is none
	explode bool
}

// expression is one "{...}" of a template.
type expression struct {
	op   *operator
	vars []varspec
}

// part is a piece of a template: a literal when expr is nil.
type part struct {
	literal string
	expr    *expression
}

// maxVars bounds the variables of one template. Real templates have a
// handful; the bound keeps the compiled matcher of a hostile selector small.
const maxVars = 32

// maxPrefix is the largest max-length RFC 6570 allows in a prefix modifier.
const maxPrefix = 9999

// parseTemplate splits s into literals and expressions.
func parseTemplate(s string) ([]part, error) {
	var parts []part
	nvars := 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, syntaxError(s, i, "unclosed '{'")
			}
			body := s[i+1 : i+1+end]
			expr, err := parseExpression(s, i+1, body)
			if err != nil {
				return nil, err
			}
			nvars += len(expr.vars)
			if nvars > maxVars {
				return nil, syntaxError(s, i, fmt.Sprintf("more than %d variables", maxVars))
			}
			parts = append(parts, part{expr: expr})
			i += end + 2
		case '}':
			return nil, syntaxError(s, i, "unmatched '}'")
		default:
			end := strings.IndexAny(s[i:], "{}")
			if end < 0 {
				end = len(s) - i
			}
			parts = append(parts, part{literal: s[i : i+end]})
			i += end
		}
	}
	return parts, nil
}

// parseExpression parses the body of an expression, which starts at offset
// off of the template s (for error messages).
func parseExpression(s string, off int, body string) (*expression, error) {
	if body == "" {
		return nil, syntaxError(s, off, "empty expression")
	}
	op := operators[0]
	switch c := body[0]; c {
	case '+', '#', '.', '/', ';', '?', '&':
		op = operators[c]
		body = body[1:]
		off++
	case '=', ',', '!', '@', '|':
		// Reserved by RFC 6570 section 2.2 for future extensions.
		return nil, syntaxError(s, off, fmt.Sprintf("reserved operator %q", c))
	}
	expr := &expression{op: op}
	for {
		spec, rest, _ := strings.Cut(body, ",")
		v, err := parseVarspec(s, off, spec)
		if err != nil {
			return nil, err
		}
		expr.vars = append(expr.vars, v)
		if len(spec) == len(body) {
			return expr, nil
		}
		off += len(spec) + 1
		body = rest
	}
}

// parseVarspec parses "name", "name*" or "name:N".
func parseVarspec(s string, off int, spec string) (varspec, error) {
	v := varspec{name: spec}
	if name, ok := strings.CutSuffix(spec, "*"); ok {
		v.name, v.explode = name, true
	} else if name, length, ok := strings.Cut(spec, ":"); ok {
		n, ok := parseMaxLength(length)
		if !ok {
			return v, syntaxError(s, off+len(name)+1, fmt.Sprintf("invalid prefix length %q (want 1 to %d)", length, maxPrefix))
		}
		v.name, v.prefix = name, n
	}
	if v.name == "" {
		return v, syntaxError(s, off, "missing variable name")
	}
	if i := invalidVarname(v.name); i >= 0 {
		return v, syntaxError(s, off+i, fmt.Sprintf("invalid variable name %q", v.name))
	}
	return v, nil
}

// parseMaxLength parses the max-length of a prefix modifier:
// a decimal integer from 1 to 9999 without leading zero.
func parseMaxLength(s string) (int, bool) {
	if s == "" || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// invalidVarname returns the offset of the first byte of name that breaks
// the RFC 6570 grammar
//
//	varname = varchar *( ["."] varchar )
//	varchar = ALPHA / DIGIT / "_" / pct-encoded
//
// or -1 when name is valid.
func invalidVarname(name string) int {
	dot := true // a dot may not start the name nor follow another dot
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isAlnum(c) || c == '_':
			dot = false
		case c == '.' && !dot && i < len(name)-1:
			dot = true
		case c == '%' && i+2 < len(name) && isHex(name[i+1]) && isHex(name[i+2]):
			i += 2
			dot = false
		default:
			return i
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// syntaxError reports a malformed template at byte offset off.
func syntaxError(s string, off int, msg string) error {
	return fmt.Errorf("%w %q: %s at offset %d", ErrInvalid, s, msg, off)
}

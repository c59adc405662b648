package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// translate rewrites a Firebase rule expression as CEL source:
//
//   - a path variable $name becomes the CEL identifier _name, since a CEL
//     identifier cannot start with '$';
//   - JavaScript's === and !== become CEL's == and != (which, in CEL, do
//     not convert types: they already mean what === means).
//
// It tokenizes rather than searching the text, so that a '$' or an "==="
// inside a string literal or a comment stays as written. Every rewrite
// keeps the length of what it replaces (=== becomes "== ", with a space),
// so the columns of CEL's errors point into the rule as its author wrote it.
//
// bound holds the names (without '$') of the variables bound on the rule's
// path; a reference to any other $name is an error. Since _name is how a
// path variable reaches CEL, identifiers starting with '_' are refused
// unless they follow a '.' (a field, as in auth.token._x).
func translate(src string, bound []string) (string, error) {
	var out strings.Builder
	out.Grow(len(src))
	afterDot := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '\'':
			j := skipString(src, i, false)
			out.WriteString(src[i:j])
			i, afterDot = j, false
		case c == '_' || isLetter(c):
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '"' || src[j] == '\'') && isStringPrefix(src[i:j]) {
				j = skipString(src, j, strings.ContainsAny(src[i:j], "rR"))
			} else if c == '_' && !afterDot {
				return "", fmt.Errorf("identifiers starting with _ are reserved for $variables at %s", position(src, i))
			}
			out.WriteString(src[i:j])
			i, afterDot = j, false
		case isDigit(c):
			// A number, with its suffix (1u), exponent (1e9), hexadecimal
			// digits (0xff) and decimal point: none of it is an identifier.
			j := i + 1
			for j < len(src) && (isIdentByte(src[j]) || src[j] == '.') {
				j++
			}
			out.WriteString(src[i:j])
			i, afterDot = j, false
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			name := src[i+1 : j]
			switch {
			case !isIdent(name):
				return "", fmt.Errorf("a $ starts a path variable, such as $uid, at %s", position(src, i))
			case afterDot:
				return "", fmt.Errorf("$%s follows a '.', but a path variable is not a field, at %s", name, position(src, i))
			case !slices.Contains(bound, name):
				return "", fmt.Errorf("$%s is not a variable of this rule's path at %s", name, position(src, i))
			}
			out.WriteByte('_')
			out.WriteString(name)
			i, afterDot = j, false
		case strings.HasPrefix(src[i:], "//"):
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			out.WriteString(src[i : i+j])
			i += j
		case strings.HasPrefix(src[i:], "===") || strings.HasPrefix(src[i:], "!=="):
			out.WriteString(src[i:i+2] + " ")
			i, afterDot = i+3, false
		case c == '.':
			out.WriteByte(c)
			i, afterDot = i+1, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			out.WriteByte(c)
			i++
		default:
			out.WriteByte(c)
			i, afterDot = i+1, false
		}
	}
	return out.String(), nil
}

// skipString returns the index just past the CEL string literal whose
// opening quote is at src[i]: '...', "...", or the triple-quoted forms,
// raw (no escapes) when the literal had an r prefix. An unterminated
// literal runs to the end of src, and CEL's parser reports it.
func skipString(src string, i int, raw bool) int {
	q := src[i : i+1]
	if strings.HasPrefix(src[i:], q+q+q) {
		q = q + q + q
	}
	for j := i + len(q); j < len(src); j++ {
		switch {
		case src[j] == '\\' && !raw:
			j++
		case strings.HasPrefix(src[j:], q):
			return j + len(q)
		case src[j] == '\n' && len(q) == 1:
			return len(src)
		}
	}
	return len(src)
}

// isStringPrefix reports whether s, just before a quote, prefixes a CEL
// string or bytes literal: r (raw), b (bytes), or both, in any case.
func isStringPrefix(s string) bool {
	switch strings.ToLower(s) {
	case "r", "b", "rb", "br":
		return true
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// position gives the line and column (in characters, from 1) of byte i of
// src, the way CEL reports positions.
func position(src string, i int) string {
	line := 1 + strings.Count(src[:i], "\n")
	col := 1 + utf8.RuneCountInString(src[strings.LastIndexByte(src[:i], '\n')+1:i])
	return fmt.Sprintf("%d:%d", line, col)
}

package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
)

// maxDepth is how deep a rules file may nest keys: Firebase's limit on the
// depth of its tree, below which no request can reach.
const maxDepth = 32

// Parse parses a rules file shaped like Firebase Realtime Database security
// rules: a JSON object whose "rules" key holds one object per level of the
// tree. At each level, ".read" and ".write" are true, false or a string
// expression; other keys are children, literal keys or one $variable that
// matches any other key of the level. // and /* */ comments are allowed, as
// Firebase allows them.
//
// ".validate" and ".indexOn" are accepted and ignored; any other key
// starting with "." is refused, and so are duplicate keys, two $variables
// at one level, a $variable that reuses the name of one above it, and keys
// Firebase refuses (see [ParseGrants]); so is nesting deeper than
// Firebase's 32 levels.
//
// Every expression is compiled and type-checked. An error names the rule
// and wraps [ErrInvalidRules]:
//
//	rules: /users/$uid/.read: undeclared reference to 'aut' (did you mean 'auth'?) at 1:1
//
// See the package documentation for the expression language.
func Parse(data []byte) (*Ruleset, error) {
	src, err := stripComments(data)
	if err != nil {
		return nil, err
	}
	env, err := baseEnv()
	if err != nil {
		return nil, fmt.Errorf("rules: the expression environment: %w", err)
	}
	p := &parser{dec: json.NewDecoder(bytes.NewReader(src)), src: src}
	if err := p.delim('{', ""); err != nil {
		return nil, err
	}
	var root *node
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if key != "rules" {
			return nil, &rulesError{msg: fmt.Sprintf("unknown key %q at the top level, where only \"rules\" goes", key)}
		}
		if root != nil {
			return nil, &rulesError{msg: `"rules" twice`}
		}
		if root, err = p.node("", 0, env, nil); err != nil {
			return nil, err
		}
	}
	if err := p.delim('}', ""); err != nil {
		return nil, err
	}
	if tok, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return nil, p.syntaxError(err, "")
		}
		return nil, &rulesError{msg: fmt.Sprintf("%v after the top-level object", tok)}
	}
	if root == nil {
		return nil, &rulesError{msg: `no "rules" key`}
	}
	return &Ruleset{root: root}, nil
}

// Load reads and parses the rules file at path. Its errors name the file.
func Load(path string) (*Ruleset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	rs, err := Parse(data)
	if re, ok := errors.AsType[*rulesError](err); ok {
		re.file = path
	}
	return rs, err
}

// parser reads a rules file one JSON token at a time, which keeps keys in
// order, catches duplicates and tells where an error is.
type parser struct {
	dec *json.Decoder
	src []byte
}

// node parses the object of the level at where ("" for the root, else
// "/users/$uid"), depth keys below the root. env declares the path variables
// bound above it, whose names (without '$') are bound.
func (p *parser) node(where string, depth int, env *cel.Env, bound []string) (*node, error) {
	if depth > maxDepth {
		return nil, &rulesError{where: where, msg: fmt.Sprintf("more than %d levels deep", maxDepth)}
	}
	if err := p.delim('{', where); err != nil {
		return nil, err
	}
	n := &node{}
	seen := make(map[string]bool)
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		at := where + "/" + key
		if seen[key] {
			return nil, &rulesError{where: at, msg: "duplicate key"}
		}
		seen[key] = true
		switch {
		case key == ".read":
			n.read, err = p.rule(at, env, bound)
		case key == ".write":
			n.write, err = p.rule(at, env, bound)
		case key == ".validate" || key == ".indexOn":
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil {
				return nil, p.syntaxError(err, at)
			}
		case strings.HasPrefix(key, "."):
			return nil, &rulesError{where: at, msg: "unknown rule; rules are .read, .write, .validate and .indexOn"}
		case strings.HasPrefix(key, "$"):
			name := key[1:]
			switch {
			case !isIdent(name):
				return nil, &rulesError{where: at, msg: "a $variable's name is a letter or _ then letters, digits or _"}
			case n.wild != nil:
				return nil, &rulesError{where: at, msg: "a second $variable at this level, which has $" + n.wildName[1:]}
			case slices.Contains(bound, name):
				return nil, &rulesError{where: at, msg: "$" + name + " is already bound above"}
			}
			childEnv, extendErr := env.Extend(cel.Variable("_"+name, cel.StringType))
			if extendErr != nil {
				return nil, &rulesError{where: at, msg: extendErr.Error()}
			}
			n.wildName = "_" + name
			n.wild, err = p.node(at, depth+1, childEnv, append(bound[:len(bound):len(bound)], name))
		default:
			if err := checkKey(key); err != nil {
				return nil, &rulesError{where: at, msg: err.Error()}
			}
			if n.children == nil {
				n.children = make(map[string]*node)
			}
			n.children[key], err = p.node(at, depth+1, env, bound)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.delim('}', where); err != nil {
		return nil, err
	}
	return n, nil
}

// rule parses the value of a .read or .write rule: true, false or an
// expression.
func (p *parser) rule(where string, env *cel.Env, bound []string) (*rule, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(err, where)
	}
	switch v := tok.(type) {
	case bool:
		return &rule{value: v}, nil
	case string:
		return compileRule(env, where, v, bound)
	}
	return nil, &rulesError{where: where, msg: "a rule is true, false or a string expression"}
}

// key reads an object's next key.
func (p *parser) key() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", p.syntaxError(err, "")
	}
	key, ok := tok.(string)
	if !ok {
		return "", &rulesError{msg: fmt.Sprintf("expected a key, found %v", tok)}
	}
	return key, nil
}

// delim reads the delimiter d, the start or the end of the object of the
// level at where.
func (p *parser) delim(d json.Delim, where string) error {
	tok, err := p.dec.Token()
	if err != nil {
		return p.syntaxError(err, where)
	}
	if tok != d {
		msg := "expected an object"
		if d == '}' {
			msg = "expected the end of the object"
		}
		return &rulesError{where: where, msg: msg}
	}
	return nil
}

// syntaxError describes a JSON error by line and column when the decoder
// knows where it is, else by where in the rules.
func (p *parser) syntaxError(err error, where string) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return &rulesError{where: lineCol(p.src, int(se.Offset)), msg: se.Error()}
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &rulesError{where: where, msg: "unexpected end of the file"}
	}
	return &rulesError{where: where, msg: err.Error()}
}

// lineCol names byte offset off of src as "line L, column C".
func lineCol(src []byte, off int) string {
	off = min(max(off, 0), len(src))
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	col := 1 + off - (bytes.LastIndexByte(src[:off], '\n') + 1)
	return fmt.Sprintf("line %d, column %d", line, col)
}

// stripComments blanks out the // and /* */ comments of a JSON text, outside
// strings, keeping every newline and offset, so that JSON errors still point
// at the right line and column.
func stripComments(data []byte) ([]byte, error) {
	if !bytes.Contains(data, []byte("/")) {
		return data, nil
	}
	out := bytes.Clone(data)
	inString := false
	for i := 0; i < len(out); i++ {
		switch c := out[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString || c != '/' || i+1 == len(out):
		case out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case out[i+1] == '*':
			end := bytes.Index(out[i+2:], []byte("*/"))
			if end < 0 {
				return nil, &rulesError{where: lineCol(out, i), msg: "unterminated /* comment"}
			}
			end += i + 4
			for ; i < end; i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
			i--
		}
	}
	return out, nil
}

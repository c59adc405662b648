package rules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	deep := `{"rules": ` + strings.Repeat(`{"a": `, 33) + "{}" + strings.Repeat("}", 33) + "}"
	tests := []struct {
		name, src, want string
	}{
		{"undeclared reference", `{"rules": {"users": {"$uid": {".read": "aut != null"}}}}`,
			"rules: /users/$uid/.read: undeclared reference to 'aut'"},
		{"position in the expression", `{"rules": {".read": "auth != null && aut"}}`,
			"(did you mean 'auth'?) at 1:17"},
		{"expression syntax", `{"rules": {"a": {".write": "auth.uid =="}}}`, "rules: /a/.write: Syntax error"},
		{"not a bool", `{"rules": {".read": "'yes'"}}`, "rules: /.read: the expression is a string, not a bool"},
		{"unbound $variable", `{"rules": {"a": {"$id": {}, ".read": "$id == 'x'"}}}`,
			"rules: /a/.read: $id is not a variable of this rule's path"},
		{"$variable of a sibling", `{"rules": {"$a": {}, "b": {".read": "$a == 'x'"}}}`, "$a is not a variable"},
		{"reserved identifier", `{"rules": {".read": "_x"}}`, "reserved"},
		{"Firebase's data is not available", `{"rules": {".read": "data.val() == true"}}`, "undeclared reference to 'data'"},
		{"newData neither", `{"rules": {".write": "newData.exists()"}}`, "undeclared reference to 'newData'"},
		{"a number", `{"rules": {".read": 1}}`, "rules: /.read: a rule is true, false or a string expression"},
		{"null", `{"rules": {".read": null}}`, "rules: /.read: a rule is true"},
		{"an object", `{"rules": {".write": {}}}`, "rules: /.write: a rule is true"},
		{"unknown rule", `{"rules": {"a": {"b": {".reed": true}}}}`, "rules: /a/b/.reed: unknown rule"},
		{"duplicate rule", `{"rules": {".read": true, ".read": false}}`, "rules: /.read: duplicate key"},
		{"duplicate key", `{"rules": {"a": {}, "a": {}}}`, "rules: /a: duplicate key"},
		{"two $variables", `{"rules": {"x": {"$a": {}, "$b": {}}}}`, "rules: /x/$b: a second $variable at this level, which has $a"},
		{"a $variable bound twice", `{"rules": {"$a": {"b": {"$a": {}}}}}`, "rules: /$a/b/$a: $a is already bound above"},
		{"bad $variable name", `{"rules": {"$a-b": {}}}`, "rules: /$a-b: a $variable's name"},
		{"empty $variable name", `{"rules": {"$": {}}}`, "rules: /$: a $variable's name"},
		{"bad key", `{"rules": {"a#b": {}}}`, `rules: /a#b: key "a#b"`},
		{"empty key", `{"rules": {"": {}}}`, "rules: /: empty key"},
		{"a child that is not an object", `{"rules": {"a": true}}`, "rules: /a: expected an object"},
		{"rules that are not an object", `{"rules": true}`, "rules: expected an object"},
		{"no rules", `{}`, `rules: no "rules" key`},
		{"unknown top-level key", `{"rulez": {}}`, `unknown key "rulez"`},
		{"rules twice", `{"rules": {}, "rules": {}}`, `"rules" twice`},
		{"not an object", `[]`, "rules: expected an object"},
		{"empty", ``, "unexpected end"},
		{"cut short", `{"rules": {"a": {`, "unexpected end"},
		{"data after", `{"rules": {}} {}`, "after the top-level object"},
		{"JSON syntax, with its line", "{\n  \"rules\": {\n    \".read\": tru\n  }\n}", "rules: line 3, column"},
		{"trailing comma", `{"rules": {".read": true,}}`, "invalid character '}'"},
		{"unterminated comment", "{\"rules\": {}}\n/* no end", "rules: line 2, column 1: unterminated /* comment"},
		{"too deep", deep, "more than 32 levels deep"},
		{"expression too long", `{"rules": {".read": "` + strings.Repeat("true && ", 600) + `true"}}`, "rules: /.read: expression code point size exceeds limit: size: 4804, limit 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted it: %v", rs)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "at -1") {
				t.Errorf("Parse error %q does not say %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidRules) {
				t.Errorf("Parse error %q does not wrap ErrInvalidRules", err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, src string
		path      string // readable by an unauthenticated caller
	}{
		{"empty rules", `{"rules": {}}`, ""},
		{"line comments", "// rules\n{\"rules\": { // the root\n\".read\": true // everyone\n}}", "/"},
		{"block comments", `/* a */ {"rules": /* b */ {".read": /* c */ true}} /* d */`, "/"},
		{"a comment across lines", "{\"rules\": {\n/* one\ntwo */ \".read\": true}}", "/"},
		{"// inside a string", `{"rules": {".read": "'http://x' != ''"}}`, "/"},
		{"/* inside a string", `{"rules": {".read": "'/*' != '*/'"}}`, "/"},
		{"escaped quote before a comment", `{"rules": {".read": "'\"' != ''" /* "x */}}`, "/"},
		{".validate and .indexOn are ignored", `{"rules": {"a": {".validate": "newData.isString()", ".indexOn": ["b", "c"], ".read": true}}}`, "/a"},
		{".validate as an object", `{"rules": {".validate": {"x": [1, {"y": null}]}, ".read": "true"}}`, "/"},
		{"the literal false", `{"rules": {".read": "false", "a": {".read": "true"}}}`, "/a"},
		{"literal keys as Firebase allows them", `{"rules": {"a b-c_é{}*": {".read": true}}}`, "/a b-c_é{}*"},
		{"32 levels", `{"rules": ` + strings.Repeat(`{"a": `, 32) + `{".read": true}` + strings.Repeat("}", 32) + "}",
			strings.Repeat("/a", 32)},
		{"whitespace around the object", " \n\t{\"rules\": {\".read\": true}}\n", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustParse(t, tt.src)
			if tt.path != "" && !rs.CanRead(keys(tt.path), nil, t0) {
				t.Errorf("%s is not readable", tt.path)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"rules": {".read": true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"rules": {".read": "aut"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := Load(good)
	if err != nil || !rs.CanRead(nil, nil, t0) {
		t.Fatalf("Load(good) = %v, %v", rs, err)
	}
	_, err = Load(bad)
	if want := "rules: " + bad + ": /.read: undeclared reference to 'aut'"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load(bad) = %v, want %q...", err, want)
	}
	if !errors.Is(err, ErrInvalidRules) {
		t.Errorf("Load(bad) = %v, not an ErrInvalidRules", err)
	}
	missing := filepath.Join(dir, "missing.json")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) || errors.Is(err, ErrInvalidRules) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the file", err)
	}
}

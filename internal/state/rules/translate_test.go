package rules

import (
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	bound := []string{"uid", "room_id"}
	tests := []struct {
		name, src, want string
	}{
		{"variable", "auth.uid == $uid", "auth.uid == _uid"},
		{"two variables", "$room_id.contains($uid)", "_room_id.contains(_uid)"},
		{"variable in parentheses", "($uid)", "(_uid)"},
		{"$ in a single-quoted string", "auth.uid == '$uid'", "auth.uid == '$uid'"},
		{"$ in a double-quoted string", `auth.uid == "$uid"`, `auth.uid == "$uid"`},
		{"escaped quote in a string", `'it\'s $uid' == $uid`, `'it\'s $uid' == _uid`},
		{"escaped backslash ends a string", `'\\' == $uid`, `'\\' == _uid`},
		{"raw string keeps its backslash", `r'\' == $uid`, `r'\' == _uid`},
		{"triple-quoted string", `'''a ' $uid ''' == $uid`, `'''a ' $uid ''' == _uid`},
		{"bytes literal", `b'$uid' == b'x'`, `b'$uid' == b'x'`},
		{"comment", "$uid == 'a' // $uid or $nope\n|| true", "_uid == 'a' // $uid or $nope\n|| true"},
		{"triple equals", "auth.uid === $uid", "auth.uid ==  _uid"},
		{"not triple equals", "auth.uid !== $uid", "auth.uid !=  _uid"},
		{"=== in a string", "'===' == $uid", "'===' == _uid"},
		{"field starting with _", "auth.token._x == 1", "auth.token._x == 1"},
		{"field after spaces", "auth.token . _x", "auth.token . _x"},
		{"numbers", "1.5e3 + 0xff + 1u > 0", "1.5e3 + 0xff + 1u > 0"},
		{"identifier with a digit", "x1 == $uid", "x1 == _uid"},
		{"non-ASCII in a string", "'é$uid' == $uid", "'é$uid' == _uid"},
		{"unterminated string is CEL's to report", "'abc $uid", "'abc $uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate(tt.src, bound)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("translate(%q) = %q, want %q", tt.src, got, tt.want)
			}
			if len(got) != len(tt.src) {
				t.Errorf("translate(%q) changed the length, and so CEL's columns", tt.src)
			}
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unbound variable", "auth.uid == $user", "$user is not a variable of this rule's path at 1:13"},
		{"bare $", "$ == 'a'", "a $ starts a path variable, such as $uid, at 1:1"},
		{"$ then digit", "$1 == 'a'", "a $ starts a path variable"},
		{"variable as a field", "auth.$uid", "$uid follows a '.'"},
		{"reserved identifier", "_uid == 'a'", "identifiers starting with _ are reserved for $variables at 1:1"},
		{"position on the second line", "true &&\n  $x", "at 2:3"},
		{"position counts characters", "'é' == $x", "at 1:8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := translate(tt.src, []string{"uid"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("translate(%q) = %v, want an error saying %q", tt.src, err, tt.want)
			}
		})
	}
}

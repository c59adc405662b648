package rules

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestGrantsCovers(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     bool
	}{
		{"no grants", nil, "/a", false},
		{"no grants, root", nil, "/", false},
		{"star covers the root", []string{"*"}, "/", true},
		{"star covers everything", []string{"*"}, "/a/b/c", true},
		{"slash covers everything", []string{"/"}, "/a/b", true},
		{"exact path", []string{"/a/b"}, "/a/b", true},
		{"below the path", []string{"/a/b"}, "/a/b/c/d", true},
		{"above the path", []string{"/a/b"}, "/a", false},
		{"the root is above", []string{"/a"}, "/", false},
		{"sibling", []string{"/a/b"}, "/a/c", false},
		{"prefix of a key is not the key", []string{"/a/b"}, "/a/bc", false},
		{"variable matches any key", []string{"/devices/{id}/status"}, "/devices/d1/status", true},
		{"variable, below", []string{"/devices/{id}/status"}, "/devices/d1/status/battery", true},
		{"variable, other leaf", []string{"/devices/{id}/status"}, "/devices/d1/config", false},
		{"variable needs a key", []string{"/devices/{id}/status"}, "/devices", false},
		{"variable alone covers the level", []string{"/{any}"}, "/x/y", true},
		{"two variables with one name are two wildcards", []string{"/{id}/{id}"}, "/a/b", true},
		{"second pattern", []string{"/x", "/users/alice"}, "/users/alice/name", true},
		{"no pattern covers", []string{"/x", "/users/alice"}, "/users/bob", false},
		{"literal braces in a path", []string{"/{id}"}, "/{id}", true},
		{"unicode key", []string{"/café"}, "/café/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGrants(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Covers(keys(tt.path)); got != tt.want {
				t.Errorf("%q covers %s = %v, want %v", tt.patterns, tt.path, got, tt.want)
			}
		})
	}
}

func TestParseGrantsErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // in the error
	}{
		{"", "empty pattern"},
		{"a/b", "starts with /"},
		{"/a//b", "empty key"},
		{"/a/", "empty key"},
		{"/a/*", `"*" stands alone`},
		{"/a/{}", "variable"},
		{"/a/{1x}", "variable"},
		{"/a/{x-y}", "variable"},
		{"/a/x{id}", "a variable is a whole key"},
		{"/a/{id", "a variable is a whole key"},
		{"/a.b", "key"},
		{"/a$", "key"},
		{"/a#", "key"},
		{"/a[0]", "key"},
		{"/a\x00", "key"},
		{"/a\x7f", "key"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := ParseGrants([]string{"/ok", tt.pattern})
			if err == nil {
				t.Fatalf("ParseGrants(%q) accepted it", tt.pattern)
			}
			if !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("error %v does not wrap ErrInvalidGrant", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), strconv.Quote(tt.pattern)) {
				t.Errorf("error %q does not name the pattern and say %q", err, tt.want)
			}
		})
	}
}

func TestGrantsEmpty(t *testing.T) {
	for _, tt := range []struct {
		patterns []string
		want     bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"/a"}, false},
		{[]string{"*"}, false},
	} {
		g, err := ParseGrants(tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		if g.Empty() != tt.want {
			t.Errorf("ParseGrants(%q).Empty() = %v, want %v", tt.patterns, g.Empty(), tt.want)
		}
	}
	if !(Grants{}).Empty() || (Grants{}).Covers(nil) {
		t.Error("the zero Grants grants something")
	}
}

// keys splits "/a/b" into its keys; "/" is the root.
func keys(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

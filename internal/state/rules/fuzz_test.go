package rules

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors wrap
// ErrInvalidRules, and that a ruleset it accepts answers for any path
// without panicking and cascades: access granted at a path is granted
// everywhere below it. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(testRules), "users/alice/posts/alice-1")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		rs, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("Parse error %v does not wrap ErrInvalidRules", err)
			}
			return
		}
		var p []string
		if path != "" {
			p = strings.Split(path, "/")
		}
		for _, a := range []*Auth{nil, alice, {UID: path, Token: map[string]any{"admin": true, "list": []any{1.0, "x"}}}} {
			read, write := false, false
			for i := 0; i <= len(p); i++ {
				r, w := rs.CanRead(p[:i], a, t0), rs.CanWrite(p[:i], a, t0)
				if read && !r || write && !w {
					t.Fatalf("access granted at %q is refused below it, at %q", p[:i-1], p[:i])
				}
				read, write = r, w
			}
		}
	})
}

package tree

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// mustParse parses JSON written in a test.
func mustParse(t testing.TB, s string) *Node {
	t.Helper()
	n, err := Parse([]byte(s), Limits{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return n
}

// js renders n as compact JSON.
func js(n *Node) string { return string(n.AppendJSON(nil, Format{})) }

// wantError checks that err is an *Error whose message holds want.
func wantError(t *testing.T, what string, err error, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, want) {
		t.Errorf("%s: error %v, want an *Error containing %q", what, err, want)
	}
}

func nan() float64      { return math.NaN() }
func inf(s int) float64 { return math.Inf(s) }

package server

import (
	"slices"
	"testing"

	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// TestRevokedBy: every shape of write that leaves an entry at
// /revoked/{jti} of the system database names that jti, and no other
// write names any.
func TestRevokedBy(t *testing.T) {
	obj := func(src string) *tree.Node {
		n, err := tree.Parse([]byte(src), tree.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sys := state.SystemNamespace
	for _, c := range []struct {
		name string
		ns   string
		op   tree.Op
		want []string
	}{
		{"put at the entry", sys, tree.Op{Kind: tree.KindPut, Path: tree.Path{"revoked", "a"}, Value: tree.Bool(true)}, []string{"a"}},
		{"put below the entry", sys, tree.Op{Kind: tree.KindPut, Path: tree.Path{"revoked", "a", "x"}, Value: tree.Bool(true)}, []string{"a"}},
		{"put of /revoked", sys, tree.Op{Kind: tree.KindPut, Path: tree.Path{"revoked"}, Value: obj(`{"a":true,"b":1e12}`)}, []string{"a", "b"}},
		{"put of the root", sys, tree.Op{Kind: tree.KindPut, Path: nil, Value: obj(`{"revoked":{"a":true},"other":1}`)}, []string{"a"}},
		{"patch of /revoked", sys, tree.Op{Kind: tree.KindPatch, Path: tree.Path{"revoked"}, Changes: []tree.Change{{Rel: tree.Path{"a"}, Value: tree.Bool(true)}, {Rel: tree.Path{"b"}, Value: nil}}}, []string{"a"}},
		{"patch of the root with paths", sys, tree.Op{Kind: tree.KindPatch, Path: nil, Changes: []tree.Change{{Rel: tree.Path{"revoked", "a"}, Value: tree.Bool(true)}, {Rel: tree.Path{"x"}, Value: tree.Bool(true)}}}, []string{"a"}},
		{"delete of an entry", sys, tree.Op{Kind: tree.KindPut, Path: tree.Path{"revoked", "a"}}, nil},
		{"elsewhere", sys, tree.Op{Kind: tree.KindPut, Path: tree.Path{"other", "a"}, Value: tree.Bool(true)}, nil},
		{"another database", "default", tree.Op{Kind: tree.KindPut, Path: tree.Path{"revoked", "a"}, Value: tree.Bool(true)}, nil},
	} {
		if got := revokedBy(c.ns, &c.op); !slices.Equal(got, c.want) {
			t.Errorf("%s: revokedBy = %q, want %q", c.name, got, c.want)
		}
	}
}

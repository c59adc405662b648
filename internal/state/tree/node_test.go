package tree

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestSet(t *testing.T) {
	base := `{"a":{"b":1,"c":{"d":"x"}},"e":true}`
	tests := []struct {
		name  string
		path  Path
		value string
		want  string
	}{
		{"replace a leaf", Path{"a", "b"}, `2`, `{"a":{"b":2,"c":{"d":"x"}},"e":true}`},
		{"add a child", Path{"a", "z"}, `[1]`, `{"a":{"b":1,"c":{"d":"x"},"z":[1]},"e":true}`},
		{"create ancestors", Path{"n", "o", "p"}, `1`, `{"a":{"b":1,"c":{"d":"x"}},"e":true,"n":{"o":{"p":1}}}`},
		{"replace an object", Path{"a"}, `"s"`, `{"a":"s","e":true}`},
		{"write through a leaf", Path{"e", "f"}, `1`, `{"a":{"b":1,"c":{"d":"x"}},"e":{"f":1}}`},
		{"write through a deeper leaf", Path{"a", "b", "x", "y"}, `1`, `{"a":{"b":{"x":{"y":1}},"c":{"d":"x"}},"e":true}`},
		{"delete a leaf", Path{"a", "b"}, `null`, `{"a":{"c":{"d":"x"}},"e":true}`},
		{"delete removes empty ancestors", Path{"a", "c", "d"}, `null`, `{"a":{"b":1},"e":true}`},
		{"delete all", Path{"e"}, `null`, `{"a":{"b":1,"c":{"d":"x"}}}`},
		{"delete what is absent", Path{"q", "r"}, `null`, base},
		{"delete below a leaf", Path{"e", "f"}, `null`, base},
		{"the root", Path{}, `{"z":1}`, `{"z":1}`},
		{"delete the root", Path{}, `null`, `null`},
	}
	for _, tt := range tests {
		old := mustParse(t, base)
		got := old.Set(tt.path, mustParse(t, tt.value))
		if js(got) != tt.want {
			t.Errorf("%s: Set(%s, %s) = %s, want %s", tt.name, tt.path, tt.value, js(got), tt.want)
		}
		if js(old) != base {
			t.Errorf("%s: the old root changed: %s", tt.name, js(old))
		}
		checkTotals(t, tt.name, got)
	}
	if got := (*Node)(nil).Set(Path{"a", "b"}, Number(1)); js(got) != `{"a":{"b":1}}` {
		t.Errorf("Set on nil = %s", js(got))
	}
	leaf := Number(1)
	if got := leaf.Set(Path{}, nil); got != nil {
		t.Errorf("deleting the root leaf = %s", js(got))
	}
}

// checkTotals recomputes what nodes keep (Count, Depth, server values) and
// compares.
func checkTotals(t *testing.T, what string, n *Node) (count, depth, nsv int) {
	t.Helper()
	if n == nil {
		return 0, 0, 0
	}
	count, nsv = 1, 0
	if n.kind == kindServer {
		nsv = 1
	}
	n.Range(func(_ string, c *Node) bool {
		cc, cd, cs := checkTotals(t, what, c)
		count += cc
		depth = max(depth, cd+1)
		nsv += cs
		return true
	})
	if n.Count() != count || n.Depth() != depth || n.nsv != nsv {
		t.Errorf("%s: node %s keeps count %d, depth %d, server values %d; has %d, %d, %d",
			what, js(n), n.Count(), n.Depth(), n.nsv, count, depth, nsv)
	}
	return count, depth, nsv
}

func TestSetKeepsDepth(t *testing.T) {
	// The depth of an object whose deepest child is replaced by a shallower
	// one falls to the next deepest child's.
	n := mustParse(t, `{"a":{"b":{"c":{"d":1}}},"x":{"y":1},"z":1}`)
	steps := []struct {
		path  Path
		value *Node
		depth int
	}{
		{Path{"a"}, Number(1), 2},
		{Path{"x", "y"}, nil, 1},
		{Path{"q", "r", "s"}, Bool(true), 3},
		{Path{"q", "r", "s"}, String("s"), 3},
		{Path{"q"}, nil, 1},
	}
	for _, s := range steps {
		n = n.Set(s.path, s.value)
		if n.Depth() != s.depth {
			t.Errorf("after Set(%s): Depth %d, want %d (%s)", s.path, n.Depth(), s.depth, js(n))
		}
		checkTotals(t, s.path.String(), n)
	}
}

func TestSetUnchangedReturnsSameRoot(t *testing.T) {
	n := mustParse(t, `{"a":{"b":1}}`)
	if n.Set(Path{"a", "b"}, n.Get(Path{"a", "b"})) != n {
		t.Error("writing a node where it already is made a new root")
	}
	if n.Set(Path{"x"}, nil) != n {
		t.Error("deleting an absent child made a new root")
	}
}

func TestUpdate(t *testing.T) {
	base := `{"users":{"alice":{"age":30,"name":"A"},"bob":{"age":40}},"n":1}`
	tests := []struct {
		name  string
		path  Path
		patch string
		want  string
	}{
		{"children", Path{"users", "alice"}, `{"age":31,"city":"Paris"}`, `{"users":{"alice":{"age":31,"city":"Paris","name":"A"},"bob":{"age":40}},"n":1}`},
		{"multi-path", Path{}, `{"users/alice/age":1,"users/bob":null,"n":{"m":2}}`, `{"users":{"alice":{"age":1,"name":"A"}},"n":{"m":2}}`},
		{"delete all", Path{"users"}, `{"alice":null,"bob":null}`, `{"n":1}`},
		{"below a leaf", Path{"n"}, `{"a":1}`, `{"n":{"a":1},"users":{"alice":{"age":30,"name":"A"},"bob":{"age":40}}}`},
		{"nothing", Path{"users"}, `{}`, base},
		{"at an absent location", Path{"x", "y"}, `{"z":1}`, `{"n":1,"users":{"alice":{"age":30,"name":"A"},"bob":{"age":40}},"x":{"y":{"z":1}}}`},
	}
	for _, tt := range tests {
		old := mustParse(t, base)
		changes, err := ParseUpdate([]byte(tt.patch), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got := old.Update(tt.path, changes)
		if js(got) != mustJS(t, tt.want) {
			t.Errorf("%s: Update = %s, want %s", tt.name, js(got), tt.want)
		}
		if js(old) != mustJS(t, base) {
			t.Errorf("%s: the old root changed: %s", tt.name, js(old))
		}
		checkTotals(t, tt.name, got)
	}
}

// mustJS normalizes JSON written in a test to the encoder's key order.
func mustJS(t *testing.T, s string) string { return js(mustParse(t, s)) }

func TestWideObjectWritesLeaveOldVersionsIntact(t *testing.T) {
	// Versions of an object of 10,000 children, each a write apart: every
	// version keeps what it had, whatever was written after it.
	n := (*Node)(nil)
	for i := range 10_000 {
		n = n.Set(Path{"w", key(i)}, Number(float64(i)))
	}
	versions := []*Node{n}
	for i := range 200 {
		n = n.Set(Path{"w", key(i * 37 % 10_000)}, String("v"+key(i)))
		if i%3 == 0 {
			n = n.Set(Path{"w", key(i*11 + 5)}, nil)
		}
		versions = append(versions, n)
	}
	if got := versions[0].Child("w").Len(); got != 10_000 {
		t.Fatalf("first version has %d children", got)
	}
	for i := range 10_000 {
		if c := versions[0].Get(Path{"w", key(i)}); c == nil || c.num != float64(i) {
			t.Fatalf("first version's child %d is %s", i, js(c))
		}
	}
	checkTotals(t, "last version", versions[len(versions)-1])
}

func key(i int) string { return "k" + string(appendNumber(nil, float64(i))) }

func TestConcurrentReadersAndWriters(t *testing.T) {
	// Readers render the root while two writers derive new roots from it
	// (run with -race).
	root := mustParse(t, `{"a":{"b":1,"c":[1,2,3]},"d":"x"}`)
	for i := range 100 {
		root = root.Set(Path{"w", key(i)}, Number(float64(i)))
	}
	want := js(root)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			n := root
			for i := range 200 {
				n = n.Set(Path{"w", key(i % 150)}, Number(float64(w)))
				_ = root.Set(Path{"a", "b"}, Number(float64(i)))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if got := js(root); got != want {
					t.Errorf("root changed under a reader")
					return
				}
				_ = root.ETag()
			}
		})
	}
	wg.Wait()
}

func TestWalk(t *testing.T) {
	n := mustParse(t, `{"b":{"y":true,"x":[1,2]},"a":"s","10":0,"9":null}`)
	var got []string
	var kept []Path
	err := n.Walk(func(p Path, leaf *Node) error {
		got = append(got, p.String()+"="+js(leaf))
		kept = append(kept, p)
		return nil
	})
	want := `/10=0 /a="s" /b/x/0=1 /b/x/1=2 /b/y=true`
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("Walk = %s, %v; want %s", strings.Join(got, " "), err, want)
	}
	if kept[2].String() != "/b/x/0" {
		t.Errorf("a path kept from Walk changed: %s", kept[2])
	}
	stop := errors.New("stop")
	calls := 0
	err = n.Walk(func(Path, *Node) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("Walk after an error: %v, %d calls", err, calls)
	}
	var leaf []string
	_ = Number(1).Walk(func(p Path, l *Node) error { leaf = append(leaf, p.String()); return nil })
	if strings.Join(leaf, " ") != "/" {
		t.Errorf("Walk of a leaf: %v", leaf)
	}
	if err := (*Node)(nil).Walk(func(Path, *Node) error { return stop }); err != nil {
		t.Errorf("Walk of nil: %v", err)
	}
}

func TestRangeOrderAndNil(t *testing.T) {
	n := mustParse(t, `{"b":1,"a":1,"-1":1,"01":1,"1":1,"x1":1,"2":1}`)
	var keys []string
	n.Range(func(k string, _ *Node) bool { keys = append(keys, k); return true })
	if got := strings.Join(keys, " "); got != "-1 1 01 2 a b x1" {
		t.Errorf("Range order: %s", got)
	}
	keys = nil
	n.Range(func(k string, _ *Node) bool { keys = append(keys, k); return len(keys) < 2 })
	if len(keys) != 2 {
		t.Errorf("Range went on after false: %v", keys)
	}
	var nilNode *Node
	nilNode.Range(func(string, *Node) bool { t.Error("nil has children"); return true })
	if nilNode.Len() != 0 || nilNode.Count() != 0 || nilNode.IsLeaf() || nilNode.Child("a") != nil || nilNode.Get(Path{"a"}) != nil {
		t.Error("nil is not an empty null")
	}
	if Number(1).Len() != 0 || !Number(1).IsLeaf() || Number(1).Child("a") != nil || Number(1).Count() != 1 {
		t.Error("a leaf has children")
	}
}

func TestEqual(t *testing.T) {
	values := []string{`null`, `1`, `2`, `"1"`, `true`, `false`, `{"a":1}`, `{"a":2}`, `{"b":1}`, `{"a":1,"b":1}`, `{"a":{"b":1}}`, `[1]`, `{".sv":"timestamp"}`}
	for i, a := range values {
		for j, b := range values {
			if got := mustParse(t, a).Equal(mustParse(t, b)); got != (i == j) {
				t.Errorf("%s.Equal(%s) = %v", a, b, got)
			}
		}
	}
	if !mustParse(t, `{"a":1,"b":[1,{"c":2}]}`).Equal(mustParse(t, `{"b":{"1":{"c":2},"0":1},"a":1.0}`)) {
		t.Error("equal values built differently are not Equal")
	}
}

func TestNumberLeaves(t *testing.T) {
	if js(Number(math.Copysign(0, -1))) != "0" {
		t.Error("negative zero is kept")
	}
	for _, bad := range []float64{nan(), inf(1), inf(-1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Number(%v) did not panic", bad)
				}
			}()
			Number(bad)
		}()
	}
}

// TestFloat: only a number leaf has a value as a float.
func TestFloat(t *testing.T) {
	if f, ok := Number(1.5).Float(); !ok || f != 1.5 {
		t.Fatalf("Number(1.5).Float() = %v, %v", f, ok)
	}
	for _, n := range []*Node{nil, String("1"), Bool(true)} {
		if _, ok := n.Float(); ok {
			t.Fatalf("%s.Float() ok", n.AppendJSON(nil, Format{}))
		}
	}
}

package tree

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func put(p Path, v string, t *testing.T) *Op {
	return &Op{Kind: KindPut, Path: p, Value: mustParse(t, v)}
}

func patch(p Path, body string, t *testing.T) *Op {
	changes, err := ParseUpdate([]byte(body), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &Op{Kind: KindPatch, Path: p, Changes: changes}
}

func TestAppendDataAndDecodeOp(t *testing.T) {
	tests := []struct {
		op   *Op
		want string
	}{
		{put(Path{"a", "b c"}, `{"x":[1,2]}`, t), `{"path":"/a/b c","data":{"x":[1,2]}}`},
		{put(Path{}, `null`, t), `{"path":"/","data":null}`},
		{patch(Path{"a"}, `{"b/c":1,"d":null,"e":{"f":true}}`, t), `{"path":"/a","data":{"b/c":1,"d":null,"e":{"f":true}}}`},
		{patch(Path{}, `{}`, t), `{"path":"/","data":{}}`},
		{put(Path{"q\"uote"}, `"\n"`, t), `{"path":"/q\"uote","data":"\n"}`},
	}
	for _, tt := range tests {
		got := string(tt.op.AppendData(nil))
		if got != tt.want {
			t.Errorf("AppendData = %s, want %s", got, tt.want)
		}
		back, err := DecodeOp(tt.op.Kind, []byte(got), Limits{})
		if err != nil {
			t.Errorf("DecodeOp(%s): %v", got, err)
			continue
		}
		if !sameOp(back, tt.op) {
			t.Errorf("DecodeOp(%s) does not give the op back", got)
		}
	}
	for _, bad := range []struct{ kind, data, err string }{
		{KindPut, `{"data":1}`, "Invalid event data"},
		{KindPut, `{"path":"/a"}`, "Invalid event data"},
		{KindPut, `[1]`, "Invalid event data"},
		{KindPut, `{"path":"/a.b","data":1}`, "Invalid key"},
		{KindPut, `{"path":"/a","data":{"b.c":1}}`, "Invalid key"},
		{KindPatch, `{"path":"/a","data":1}`, "must be a JSON object"},
		{"merge", `{"path":"/a","data":1}`, "Invalid event kind"},
	} {
		_, err := DecodeOp(bad.kind, []byte(bad.data), Limits{})
		wantError(t, "DecodeOp("+bad.data+")", err, bad.err)
	}
}

func sameOp(a, b *Op) bool {
	if a.Kind != b.Kind || !a.Path.Equal(b.Path) || !a.Value.Equal(b.Value) || len(a.Changes) != len(b.Changes) {
		return false
	}
	for i := range a.Changes {
		if !a.Changes[i].Rel.Equal(b.Changes[i].Rel) || !a.Changes[i].Value.Equal(b.Changes[i].Value) {
			return false
		}
	}
	return true
}

func TestProject(t *testing.T) {
	tests := []struct {
		name  string
		op    *Op
		watch Path
		kind  string // "" for no event
		data  string
	}{
		{"put at watch", put(Path{"a"}, `{"b":1}`, t), Path{"a"}, KindPut, `{"path":"/","data":{"b":1}}`},
		{"put above watch", put(Path{"a"}, `{"b":{"c":1}}`, t), Path{"a", "b"}, KindPut, `{"path":"/","data":{"c":1}}`},
		{"put above watch, nothing there", put(Path{"a"}, `{"x":1}`, t), Path{"a", "b"}, KindPut, `{"path":"/","data":null}`},
		{"put of null above watch", put(Path{}, `null`, t), Path{"a"}, KindPut, `{"path":"/","data":null}`},
		{"put below watch", put(Path{"a", "b", "c"}, `2`, t), Path{"a"}, KindPut, `{"path":"/b/c","data":2}`},
		{"put at the root, watched", put(Path{"a"}, `2`, t), Path{}, KindPut, `{"path":"/a","data":2}`},
		{"put elsewhere", put(Path{"a", "b"}, `2`, t), Path{"a", "c"}, "", ""},
		{"put at a sibling prefix", put(Path{"ab"}, `2`, t), Path{"a"}, "", ""},
		{"patch at watch", patch(Path{"a"}, `{"b":1,"c/d":null}`, t), Path{"a"}, KindPatch, `{"path":"/","data":{"b":1,"c/d":null}}`},
		{"patch below watch", patch(Path{"a", "b"}, `{"c":1,"d/e":2}`, t), Path{"a"}, KindPatch, `{"path":"/b","data":{"c":1,"d/e":2}}`},
		{"patch above watch, a change at watch", patch(Path{"a"}, `{"b":{"c":1},"x":2}`, t), Path{"a", "b"}, KindPut, `{"path":"/","data":{"c":1}}`},
		{"patch above watch, a change above watch", patch(Path{}, `{"a":{"b":{"c":3}},"x":2}`, t), Path{"a", "b"}, KindPut, `{"path":"/","data":{"c":3}}`},
		{"patch above watch, a deletion above watch", patch(Path{}, `{"a":null}`, t), Path{"a", "b"}, KindPut, `{"path":"/","data":null}`},
		{"patch above watch, changes below watch", patch(Path{"a"}, `{"b/c":1,"b/d/e":2,"x":3}`, t), Path{"a", "b"}, KindPatch, `{"path":"/","data":{"c":1,"d/e":2}}`},
		{"patch above watch, nothing for watch", patch(Path{"a"}, `{"x":1,"y/z":2}`, t), Path{"a", "b"}, "", ""},
		{"patch elsewhere", patch(Path{"x"}, `{"a":1}`, t), Path{"a"}, "", ""},
		{"empty patch", patch(Path{"a"}, `{}`, t), Path{"a"}, "", ""},
	}
	for _, tt := range tests {
		kind, data, ok := tt.op.Project(tt.watch)
		if ok != (tt.kind != "") || kind != tt.kind || string(data) != tt.data {
			t.Errorf("%s: Project(%s) = %q %s %v; want %q %s", tt.name, tt.watch, kind, data, ok, tt.kind, tt.data)
		}
	}
}

// TestProjectKeepsStreamsInStep checks what a stream relies on: for random
// trees, writes and watched locations, applying the projected event to the
// watched subtree before the write gives the watched subtree after it, and
// no event means no change there.
func TestProjectKeepsStreamsInStep(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 20_000 {
		root := randomValue(r, 4)
		op := randomOp(r)
		watch := randomPath(r, 4)
		before, after := root.Get(watch), root.Apply(op).Get(watch)
		kind, data, ok := op.Project(watch)
		if !ok {
			if !before.Equal(after) {
				t.Fatalf("#%d: no event for %s at %s, but %s became %s (op %s)", i, op.Kind, watch, js(before), js(after), op.AppendData(nil))
			}
			continue
		}
		ev, err := DecodeOp(kind, data, Limits{})
		if err != nil {
			t.Fatalf("#%d: event %s %s: %v", i, kind, data, err)
		}
		if got := before.Apply(ev); !got.Equal(after) {
			t.Fatalf("#%d: root %s, op %s %s, watch %s: event %s %s turns %s into %s, want %s",
				i, js(root), op.Kind, op.AppendData(nil), watch, kind, data, js(before), js(got), js(after))
		}
		back, err := DecodeOp(op.Kind, op.AppendData(nil), Limits{})
		if err != nil || !sameOp(back, op) {
			t.Fatalf("#%d: op %s does not decode back: %v", i, op.AppendData(nil), err)
		}
	}
}

var randomKeys = []string{"a", "b", "c", "0", "1", "2"}

func randomPath(r *rand.Rand, maxLen int) Path {
	p := Path{}
	for range r.IntN(maxLen + 1) {
		p = append(p, randomKeys[r.IntN(len(randomKeys))])
	}
	return p
}

func randomValue(r *rand.Rand, depth int) *Node {
	switch x := r.IntN(10); {
	case x == 0:
		return nil
	case x <= 3 || depth == 0:
		return Number(float64(r.IntN(5)))
	case x == 4:
		return String(randomKeys[r.IntN(len(randomKeys))])
	}
	var n *Node
	for range 1 + r.IntN(4) {
		n = n.Set(Path{randomKeys[r.IntN(len(randomKeys))]}, randomValue(r, depth-1))
	}
	return n
}

func randomOp(r *rand.Rand) *Op {
	p := randomPath(r, 3)
	if r.IntN(2) == 0 {
		return &Op{Kind: KindPut, Path: p, Value: randomValue(r, 3)}
	}
	var changes []Change
	for range r.IntN(4) {
		rel := randomPath(r, 3)
		if len(rel) == 0 {
			continue
		}
		// Keep the locations disjoint, as ParseUpdate does.
		if slices.ContainsFunc(changes, func(c Change) bool { return c.Rel.HasPrefix(rel) || rel.HasPrefix(c.Rel) }) {
			continue
		}
		changes = append(changes, Change{Rel: rel, Value: randomValue(r, 2)})
	}
	slices.SortFunc(changes, func(a, b Change) int { return a.Rel.compare(b.Rel) })
	return &Op{Kind: KindPatch, Path: p, Changes: changes}
}

func TestOpResolve(t *testing.T) {
	root := mustParse(t, `{"a":{"n":1}}`)
	now := time.UnixMilli(42)
	op := patch(Path{"a"}, `{"n":{".sv":{"increment":2}},"t":{".sv":"timestamp"},"x":1}`, t)
	got, err := op.Resolve(root, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"path":"/a","data":{"n":3,"t":42,"x":1}}`; string(got.AppendData(nil)) != want {
		t.Errorf("resolved patch %s, want %s", got.AppendData(nil), want)
	}
	if !op.Changes[0].Value.HasServerValues() {
		t.Error("Resolve changed the op it was given")
	}
	p := put(Path{"a", "n"}, `{".sv":{"increment":-1}}`, t)
	if got, err := p.Resolve(root, now); err != nil || js(got.Value) != "0" {
		t.Errorf("resolved put: %v, %v", got, err)
	}
	plain := put(Path{"a"}, `1`, t)
	if got, _ := plain.Resolve(root, now); got != plain {
		t.Error("an op without server values was copied")
	}
	if _, err := put(Path{"a"}, `{".sv":"later"}`, t).Resolve(root, now); err == nil {
		t.Error("an unknown server value resolved")
	}
}

func TestApplyPanicsOnUnknownKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	(*Node)(nil).Apply(&Op{Kind: "merge"})
}

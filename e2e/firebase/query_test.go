package firebase

import (
	"fmt"
	"slices"
	"testing"

	"firebase.google.com/go/v4/db"
	"github.com/google/go-cmp/cmp"
)

// dinosaurs is Firebase's dinosaur-facts example (the data its query docs
// use), with the sizes under "dimensions" to query by a nested child.
var dinosaurs = map[string]any{
	"bruhathkayosaurus": dino(-70000000, -70000000, "saurischia", 25, 44, 135000),
	"lambeosaurus":      dino(-76000000, -75000000, "ornithischia", 2.1, 12.5, 5000),
	"linhenykus":        dino(-85000000, -75000000, "theropoda", 0.6, 1, 3),
	"pterodactyl":       dino(-150000000, -148500000, "pterosauria", 0.6, 0.8, 2),
	"stegosaurus":       dino(-155000000, -150000000, "ornithischia", 4, 9, 2500),
	"triceratops":       dino(-68000000, -66000000, "ornithischia", 3, 8, 11000),
}

// scores is the same example's leaderboard, to order by value.
var scores = map[string]any{
	"bruhathkayosaurus": 55,
	"lambeosaurus":      21,
	"linhenykus":        80,
	"pterodactyl":       93,
	"stegosaurus":       5,
	"triceratops":       22,
}

// mixed has a value of every kind, which order by value ranks null, false,
// true, numbers, strings, then objects.
var mixed = map[string]any{
	"a-string": "x",
	"b-three":  3,
	"c-true":   true,
	"d-false":  false,
	"e-object": map[string]any{"k": 1},
	"f-half":   1.5,
	"g-string": "b",
}

func dino(appeared, vanished float64, order string, height, length, weight float64) map[string]any {
	return map[string]any{
		"appeared": appeared,
		"vanished": vanished,
		"order":    order,
		"dimensions": map[string]any{
			"height": height,
			"length": length,
			"weight": weight,
		},
	}
}

func TestQueries(t *testing.T) {
	_, c, ctx := setup(t)
	if err := c.NewRef("facts").Set(ctx, map[string]any{"dinosaurs": dinosaurs, "scores": scores, "mixed": mixed}); err != nil {
		t.Fatal(err)
	}
	dinos := c.NewRef("facts/dinosaurs")
	board := c.NewRef("facts/scores")
	kinds := c.NewRef("facts/mixed")

	for _, tc := range []struct {
		name  string
		query *db.Query
		want  []string // keys, in the query's order
	}{
		{"child startAt", dinos.OrderByChild("dimensions/height").StartAt(3), []string{"triceratops", "stegosaurus", "bruhathkayosaurus"}},
		{"child endAt", dinos.OrderByChild("appeared").EndAt(-100000000), []string{"stegosaurus", "pterodactyl"}},
		{"child range and limitToLast", dinos.OrderByChild("dimensions/height").StartAt(0.6).EndAt(3).LimitToLast(2), []string{"lambeosaurus", "triceratops"}},
		{"child ties by key, limitToFirst", dinos.OrderByChild("dimensions/height").LimitToFirst(2), []string{"linhenykus", "pterodactyl"}},
		{"child limitToLast", dinos.OrderByChild("dimensions/weight").LimitToLast(2), []string{"triceratops", "bruhathkayosaurus"}},
		{"child equalTo string", dinos.OrderByChild("order").EqualTo("ornithischia"), []string{"lambeosaurus", "stegosaurus", "triceratops"}},
		{"child equalTo number", dinos.OrderByChild("dimensions/height").EqualTo(25), []string{"bruhathkayosaurus"}},
		{"child startAt string", dinos.OrderByChild("order").StartAt("p"), []string{"pterodactyl", "bruhathkayosaurus", "linhenykus"}},
		{"child missing sorts first", dinos.OrderByChild("nickname").LimitToFirst(2), []string{"bruhathkayosaurus", "lambeosaurus"}},
		{"child equalTo nothing", dinos.OrderByChild("order").EqualTo("sauropoda"), nil},
		{"key range", dinos.OrderByKey().StartAt("a").EndAt("m"), []string{"bruhathkayosaurus", "lambeosaurus", "linhenykus"}},
		{"key limitToFirst", dinos.OrderByKey().LimitToFirst(2), []string{"bruhathkayosaurus", "lambeosaurus"}},
		{"key limitToLast", dinos.OrderByKey().LimitToLast(1), []string{"triceratops"}},
		{"key equalTo", dinos.OrderByKey().EqualTo("pterodactyl"), []string{"pterodactyl"}},
		{"key startAt and limitToFirst", dinos.OrderByKey().StartAt("m").LimitToFirst(2), []string{"pterodactyl", "stegosaurus"}},
		{"value limitToLast", board.OrderByValue().LimitToLast(3), []string{"bruhathkayosaurus", "linhenykus", "pterodactyl"}},
		{"value range", board.OrderByValue().StartAt(20).EndAt(60), []string{"lambeosaurus", "triceratops", "bruhathkayosaurus"}},
		{"value equalTo", board.OrderByValue().EqualTo(5), []string{"stegosaurus"}},
		{"value by type, limitToFirst", kinds.OrderByValue().LimitToFirst(4), []string{"d-false", "c-true", "f-half", "b-three"}},
		{"value by type, limitToLast", kinds.OrderByValue().LimitToLast(3), []string{"g-string", "a-string", "e-object"}},
		{"value strings", kinds.OrderByValue().StartAt("a").EndAt("z"), []string{"g-string", "a-string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The server answers an object, unordered, holding what the
			// query selects; GetOrdered sorts it as the query says.
			nodes, err := tc.query.GetOrdered(ctx)
			if err != nil {
				t.Fatalf("GetOrdered: %v", err)
			}
			var got []string
			for _, n := range nodes {
				got = append(got, n.Key())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			var all map[string]any
			if err := tc.query.Get(ctx, &all); err != nil {
				t.Fatalf("Get: %v", err)
			}
			for _, n := range nodes {
				var v any
				if err := n.Unmarshal(&v); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(all[n.Key()], v); diff != "" {
					t.Errorf("%s (-Get +GetOrdered):\n%s", n.Key(), diff)
				}
			}
		})
	}

	// The values come whole: a query's children are the stored ones.
	nodes, err := dinos.OrderByKey().EqualTo("stegosaurus").GetOrdered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var stego any
	if len(nodes) != 1 {
		t.Fatalf("equalTo stegosaurus gave %d nodes", len(nodes))
	}
	if err := nodes[0].Unmarshal(&stego); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dinosaurs["stegosaurus"], stego); diff != "" {
		t.Errorf("stegosaurus (-want +got):\n%s", diff)
	}
}

// TestPushIDsSortChronologically pushes in a row; the keys, compared as
// strings, come in the order of the pushes, which is what ordering by key
// (and the SDK's own sort) relies on.
func TestPushIDsSortChronologically(t *testing.T) {
	_, c, ctx := setup(t)
	list := c.NewRef("chat/messages")
	var keys []string
	for i := range 20 {
		ref, err := list.Push(ctx, map[string]any{"n": i})
		if err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
		keys = append(keys, ref.Key)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("push IDs are not in push order:\n%q", keys)
	}
	if len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("push IDs repeat:\n%q", keys)
	}

	nodes, err := list.OrderByKey().LimitToLast(5).GetOrdered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		var m struct{ N int }
		if err := n.Unmarshal(&m); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", n.Key(), m.N))
	}
	var want []string
	for i := 15; i < 20; i++ {
		want = append(want, fmt.Sprintf("%s=%d", keys[i], i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the last 5 by key (-want +got):\n%s", diff)
	}
}

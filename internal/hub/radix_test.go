package hub

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The radix tree answers like a plain list of keys, under inserts and
// removes in any order, and shrinks back to its root once emptied.
func TestRadixAgainstList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab/"
	randString := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	type kv struct {
		key string
		v   int
	}
	var tree radix[int]
	var list []kv
	for step := range 4000 {
		if len(list) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(list))
			tree.remove(list[i].key, list[i].v)
			list = slices.Delete(list, i, i+1)
		} else {
			e := kv{randString(rng.IntN(6)), step}
			tree.insert(e.key, e.v)
			list = append(list, e)
		}
		topic := randString(rng.IntN(8))
		var got, want []int
		tree.walk(topic, func(v int) { got = append(got, v) })
		for _, e := range list {
			if strings.HasPrefix(topic, e.key) {
				want = append(want, e.v)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d, walk(%q) = %v, want %v", step, topic, got, want)
		}
	}
	for _, e := range list {
		tree.remove(e.key, e.v)
	}
	if n := tree.nodes(); n != 1 {
		t.Fatalf("emptied tree has %d nodes, want the root alone", n)
	}
}

package boltstate_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/boltstate"
	"github.com/heraldhub/herald/internal/state/tree"
)

// start opens the journal at file with the view and a store on the tree
// it keeps.
func start(t *testing.T, file string, ret journal.Retention) (*bolt.Journal, *state.Store) {
	t.Helper()
	view := boltstate.View{}
	j, err := bolt.Open(file, bolt.Options{Views: []bolt.View{view}, Retention: ret})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := boltstate.Load(j, view)
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(state.Config{Journal: j}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	return j, s
}

func stop(t *testing.T, j *bolt.Journal, s *state.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRestart: random writes of every kind, over several restarts and a
// journal whose retention keeps almost nothing, leave the reloaded tree
// equal to the tree before each restart.
func TestRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "journal.db")
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "0", "1"}
	randPath := func() tree.Path {
		p := make(tree.Path, rng.IntN(4))
		for i := range p {
			p[i] = keys[rng.IntN(len(keys))]
		}
		return p
	}
	randValue := func() *tree.Node {
		js := []string{`1`, `"s"`, `true`, `null`, `{"a":1,"b":{"c":"x"}}`, `[1,2,3]`, `{"0":{"1":2}}`}[rng.IntN(7)]
		v, err := tree.Parse([]byte(js), tree.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var saved []byte // the tree as the previous round left it
	for round := range 5 {
		j, s := start(t, file, journal.Retention{MaxEvents: 3})
		if round > 0 {
			if got := s.Snapshot().Root("db").AppendJSON(nil, tree.Format{}); string(got) != string(saved) {
				t.Fatalf("round %d: reloaded tree %s, want %s", round, got, saved)
			}
		}
		for range 100 {
			w := state.Write{NS: "db", Path: randPath()}
			switch rng.IntN(3) {
			case 0:
				w.Kind, w.Value = state.Put, randValue()
			case 1:
				w.Kind = state.Patch
				for _, k := range []string{"a", "b/c"}[:1+rng.IntN(2)] {
					var rel tree.Path
					if k == "b/c" {
						rel = tree.Path{"b", "c"}
					} else {
						rel = tree.Path{k}
					}
					w.Changes = append(w.Changes, tree.Change{Rel: rel, Value: randValue()})
				}
			case 2:
				w.Kind, w.Value = state.Push, randValue()
			}
			if _, err := s.Write(t.Context(), w); err != nil {
				t.Fatal(err)
			}
		}
		saved = s.Snapshot().Root("db").AppendJSON(nil, tree.Format{})
		stop(t, j, s)
	}
}

// TestForeignEvents: events that are not the tree's leave it alone.
func TestForeignEvents(t *testing.T) {
	file := filepath.Join(t.TempDir(), "journal.db")
	j, s := start(t, file, journal.Retention{})
	if err := j.Append(t.Context(), &journal.Event{Topics: []string{"https://example.com/x"}, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	v, _ := tree.Parse([]byte(`{"k":"v"}`), tree.Limits{})
	if _, err := s.Write(t.Context(), state.Write{NS: "db", Path: tree.Path{"p"}, Value: v}); err != nil {
		t.Fatal(err)
	}
	stop(t, j, s)
	j, s = start(t, file, journal.Retention{})
	defer stop(t, j, s)
	if got := fmt.Sprintf("%s@%d", s.Snapshot().Root("db").AppendJSON(nil, tree.Format{}), s.Snapshot().Seq); got != `{"p":{"k":"v"}}@2` {
		t.Fatalf("reloaded %s", got)
	}
}

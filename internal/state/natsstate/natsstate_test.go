package natsstate_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	js "github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/natsstate"
	"github.com/heraldhub/herald/internal/state/tree"
)

// TestSaveLoad: random writes on a store on the JetStream journal, saved
// now and then; a load gives the tree of the newest save, and the store
// opened from it, following the journal from there, the whole tree. Only
// the newest snapshots are kept, and another stream's are neither loaded
// nor kept.
func TestSaveLoad(t *testing.T) {
	srv := natstest.Run(t)
	nc := natstest.Connect(t, srv.URL())
	ctx := t.Context()
	open := func(stream string) *js.Journal {
		j, err := js.Open(ctx, js.Options{Conn: nc, Stream: stream, Subject: stream, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		return j
	}
	snapshots := func(j *js.Journal) *natsstate.Snapshots {
		s, err := natsstate.Open(ctx, natsstate.Config{Conn: nc, Journal: j, Bucket: "STATE", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// A snapshot of another stream (another epoch) in the same bucket.
	other := open("OTHER")
	otherStore, err := state.Open(state.Config{Journal: other}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherStore.Write(ctx, state.Write{NS: "default", Path: tree.Path{"foreign"}, Value: tree.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if err := snapshots(other).Save(ctx, otherStore.Snapshot()); err != nil {
		t.Fatal(err)
	}
	otherStore.Close()

	j := open("MAIN")
	store, err := state.Open(state.Config{Journal: j}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	snaps := snapshots(j)
	rng := rand.New(rand.NewPCG(1, 2))
	var saved *state.Snapshot
	for i := range 200 {
		w := state.Write{NS: []string{"default", "b"}[rng.IntN(2)], Path: tree.Path{fmt.Sprint(rng.IntN(5)), fmt.Sprint(rng.IntN(5))}, Value: tree.Number(float64(i))}
		if rng.IntN(4) == 0 {
			w.Value = nil
		}
		if _, err := store.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
		if i%40 == 39 {
			saved = store.Snapshot()
			if err := snaps.Save(ctx, saved); err != nil {
				t.Fatal(err)
			}
		}
	}

	loaded, err := snapshots(j).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Seq != saved.Seq {
		t.Fatalf("loaded the snapshot at %d, want the newest, at %d", loaded.Seq, saved.Seq)
	}
	for _, ns := range []string{"default", "b"} {
		if !loaded.Roots[ns].Equal(saved.Root(ns)) {
			t.Fatalf("namespace %s loaded %s, saved %s", ns, loaded.Roots[ns].AppendJSON(nil, tree.Format{}), saved.Root(ns).AppendJSON(nil, tree.Format{}))
		}
	}
	again, err := state.Open(state.Config{Journal: j}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.Snapshot().Tree().Equal(store.Snapshot().Tree()) {
		t.Fatal("a store opened from the snapshot does not have the whole tree")
	}

	// The bucket holds the newest two of MAIN's, none of OTHER's.
	obs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := obs.ObjectStore(context.Background(), "STATE")
	if err != nil {
		t.Fatal(err)
	}
	infos, err := bucket.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range infos {
		names = append(names, info.Name)
	}
	if want := fmt.Sprintf("[tree-%020d tree-%020d]", saved.Seq-40, saved.Seq); fmt.Sprint(names) != want && fmt.Sprint(names) != fmt.Sprintf("[tree-%020d tree-%020d]", saved.Seq, saved.Seq-40) {
		t.Fatalf("the bucket holds %v, want %s", names, want)
	}
}

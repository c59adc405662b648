package journal_test

import (
	"testing"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/journaltest"
)

func TestMemoryConformance(t *testing.T) {
	journaltest.Run(t, journaltest.Factory{
		Open: func(t *testing.T, ret journal.Retention) journal.Journal {
			m := journal.NewMemory(ret)
			t.Cleanup(func() { m.Close() })
			return m
		},
	})
}

func TestMemoryEpochsDiffer(t *testing.T) {
	a, b := journal.NewMemory(journal.Retention{}), journal.NewMemory(journal.Retention{})
	defer a.Close()
	defer b.Close()
	if a.Epoch() == b.Epoch() {
		t.Fatalf("two journals share the epoch %q", a.Epoch())
	}
	ev := &journal.Event{Topics: []string{"t"}}
	if err := a.Append(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(t.Context(), &journal.Event{Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	// Same position, other epoch: b must not resolve a's ID.
	if _, err := b.Lookup(t.Context(), ev.ID); err != journal.ErrUnknownID {
		t.Fatalf("Lookup of another journal's ID: %v, want ErrUnknownID", err)
	}
}

package jetstream_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
)

// TestQueueRefusedInTheMiddle: an event that the stream refuses among
// queued ones is not stored, and its wait says so; the ones queued after
// it are stored, in the order queued.
func TestQueueRefusedInTheMiddle(t *testing.T) {
	j := open(t, newOptions(natstest.Connect(t, natstest.Run(t).URL()), 0))
	if err := j.Append(t.Context(), &journal.Event{ID: "taken", Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	var evs []*journal.Event
	var waits []func() error
	for i := range 6 {
		ev := &journal.Event{Topics: []string{"t"}, Data: fmt.Appendf(nil, "%d", i)}
		if i == 2 {
			ev.ID = "taken"
		}
		wait, err := j.Queue(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		evs, waits = append(evs, ev), append(waits, wait)
	}
	var stored []string
	for i, wait := range waits {
		err := wait()
		if i == 2 {
			if !errors.Is(err, journal.ErrDuplicateID) {
				t.Fatalf("wait of the refused event: %v, want ErrDuplicateID", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("wait #%d: %v", i, err)
		}
		stored = append(stored, string(evs[i].Data))
	}
	var read []string
	err := j.Read(t.Context(), 1, func(ev *journal.Event) error {
		read = append(read, string(ev.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(read) != fmt.Sprint(stored) || fmt.Sprint(read) != "[0 1 3 4 5]" {
		t.Fatalf("stored %v, read back %v; want [0 1 3 4 5]", stored, read)
	}
}

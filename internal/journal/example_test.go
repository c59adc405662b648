package journal_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhub/herald/internal/journal"
)

// A node follows the journal from "now" and fans out what it receives.
func ExampleMemory_Follow() {
	ctx := context.Background()
	j := journal.NewMemory(journal.Retention{MaxEvents: 1000})
	defer j.Close()

	now, _ := j.Last(ctx)
	live, _ := j.Follow(ctx, now)
	for _, title := range []string{"first edition", "second edition"} {
		j.Append(ctx, &journal.Event{Topics: []string{"https://example.com/books/1"}, Data: []byte(title)})
	}
	for range 2 {
		ev := <-live
		fmt.Println(ev.Seq, string(ev.Data))
	}
	// Output:
	// 1 first edition
	// 2 second edition
}

// A subscriber that reconnects with a Last-Event-ID gets what it missed.
func ExampleMemory_Read() {
	ctx := context.Background()
	j := journal.NewMemory(journal.Retention{})
	defer j.Close()
	for _, id := range []string{"a", "b", "c"} {
		j.Append(ctx, &journal.Event{ID: id, Topics: []string{"t"}})
	}

	lastEventID := "a"
	after, err := j.Lookup(ctx, lastEventID)
	if err != nil {
		// Unknown or expired: replay everything retained.
		after = 0
	}
	j.Read(ctx, after, func(ev *journal.Event) error {
		fmt.Println(ev.ID)
		return nil
	})
	// Output:
	// b
	// c
}

// Validate names the field at fault in words fit for the publisher, and
// wraps a stable error value per rule.
func ExampleEvent_Validate() {
	ev := &journal.Event{Topics: []string{"https://example.com/books/1"}, ID: "book-1\x1b[2J"}
	err := ev.Validate(journal.Limits{})
	if ee, ok := errors.AsType[*journal.EventError](err); ok {
		fmt.Println("invalid " + ee.Field + ": " + ee.Reason)
	}
	fmt.Println(errors.Is(err, journal.ErrInvalidID), errors.Is(err, journal.ErrInvalidEvent))
	// Output:
	// invalid id: must not contain control characters
	// true true
}

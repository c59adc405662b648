package bolt_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

// Events and their IDs survive a restart.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "herald")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "journal.db")
	ctx := context.Background()

	j, err := bolt.Open(path, bolt.Options{Retention: journal.Retention{MaxEvents: 100_000}})
	if err != nil {
		log.Fatal(err)
	}
	ev := &journal.Event{Topics: []string{"https://example.com/books/1"}, Data: []byte("in stock")}
	if err := j.Append(ctx, ev); err != nil {
		log.Fatal(err)
	}
	j.Close()

	// After a restart, the ID a client last saw still resolves.
	j, err = bolt.Open(path, bolt.Options{Retention: journal.Retention{MaxEvents: 100_000}})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	seq, err := j.Lookup(ctx, ev.ID)
	fmt.Println(seq, err)
	j.Read(ctx, 0, func(ev *journal.Event) error {
		fmt.Println(ev.Seq, ev.Topics[0], string(ev.Data))
		return nil
	})
	// Output:
	// 1 <nil>
	// 1 https://example.com/books/1 in stock
}

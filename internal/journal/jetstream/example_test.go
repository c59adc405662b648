package jetstream_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
)

// Two nodes share one journal: what node A appends, node B follows, and a
// subscriber that saw it on A resumes on B.
func ExampleOpen() {
	url, stop := runServer()
	defer stop()
	ctx := context.Background()

	// Options.NATSOptions would carry nats.UserCredentials, nats.RootCAs...
	a, err := jetstream.Open(ctx, jetstream.Options{URL: url, Retention: journal.Retention{MaxEvents: 100_000}})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := jetstream.Open(ctx, jetstream.Options{URL: url, Retention: journal.Retention{MaxEvents: 100_000}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	live, err := b.Follow(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	ev := &journal.Event{Topics: []string{"https://example.com/books/1"}, Data: []byte("in stock")}
	if err := a.Append(ctx, ev); err != nil {
		log.Fatal(err)
	}
	got := <-live
	fmt.Println(got.Seq, got.Topics[0], string(got.Data))

	seq, err := b.Lookup(ctx, ev.ID)
	fmt.Println(seq, err)
	// Output:
	// 1 https://example.com/books/1 in stock
	// 1 <nil>
}

// A writer that computes each event on the one before queues them under
// its lock, in order, and waits for them outside it.
func ExampleJournal_Queue() {
	url, stop := runServer()
	defer stop()
	ctx := context.Background()
	j, err := jetstream.Open(ctx, jetstream.Options{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	var mu sync.Mutex
	var waits []func() error
	var evs []*journal.Event
	mu.Lock()
	for _, stock := range []string{"3", "2", "1"} {
		ev := &journal.Event{Topics: []string{"https://example.com/books/1"}, Data: []byte(stock)}
		wait, err := j.Queue(ctx, ev)
		if err != nil {
			log.Fatal(err)
		}
		waits, evs = append(waits, wait), append(evs, ev)
	}
	mu.Unlock()
	for i, wait := range waits {
		if err := wait(); err != nil {
			log.Fatal(err)
		}
		fmt.Println(evs[i].Seq, string(evs[i].Data))
	}
	// Output:
	// 1 3
	// 2 2
	// 3 1
}

// runServer starts a nats-server with JetStream in this process, as a
// stand-in for a real one, and returns its address.
func runServer() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "herald-nats")
	if err != nil {
		log.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10e9) {
		log.Fatal("nats-server not ready")
	}
	return s.ClientURL(), func() {
		s.Shutdown()
		s.WaitForShutdown()
		os.RemoveAll(dir)
	}
}

package herald_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/client"
)

// A program embeds the hub on its own mux, publishes from Go, and a
// subscriber receives the update over HTTP.
func Example() {
	h, err := herald.New(herald.Config{
		Anonymous: true, // subscribers need no token for public updates
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/.well-known/mercure", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the program's own page")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	sub := &client.Subscriber{URL: srv.URL + "/.well-known/mercure?topic=https://example.com/books/{id}"}
	stream, err := sub.Connect(context.Background()) // returns once subscribed
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()

	_, err = h.Publish(context.Background(), herald.Update{
		Topics: []string{"https://example.com/books/1"},
		Type:   "price",
		Data:   []byte(`{"price": 42}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range stream.Events() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type, string(ev.Data))
		break
	}
	// Output:
	// price {"price": 42}
}

// Mounted under a prefix of its own, the hub URL is the prefix followed by
// the well-known path.
func Example_prefix() {
	h, err := herald.New(herald.Config{Anonymous: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if _, err := h.Publish(context.Background(), herald.Update{Topics: []string{"news"}, ID: "n1", Data: []byte("hello")}); err != nil {
		log.Fatal(err)
	}
	// "earliest" replays what the hub keeps, then streams what comes.
	sub := &client.Subscriber{URL: srv.URL + "/realtime/.well-known/mercure?topic=news", LastEventID: "earliest"}
	stream, err := sub.Connect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for ev, err := range stream.Events() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.ID, string(ev.Data))
		break
	}
	// Output:
	// n1 hello
}

func ExampleHub_Publish() {
	h, err := herald.New(herald.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(context.Background())

	id, err := h.Publish(context.Background(), herald.Update{
		Topics: []string{"https://example.com/books/1"},
		ID:     "book-1-price-42",
		Data:   []byte(`{"price": 42}`),
	})
	fmt.Println(id, err)

	// The rules of an update are those of the HTTP endpoint.
	_, err = h.Publish(context.Background(), herald.Update{
		Topics: []string{"https://example.com/books/1"},
		Type:   "price\nid: forged",
	})
	fmt.Println(errors.Is(err, herald.ErrInvalidUpdate), err)
	_, err = h.Publish(context.Background(), herald.Update{
		Topics: []string{"https://example.com/books/1"},
		ID:     "book-1-price-42",
	})
	fmt.Println(errors.Is(err, herald.ErrDuplicateID))
	// Output:
	// book-1-price-42 <nil>
	// true herald: invalid update: type: must not contain control characters
	// true
}

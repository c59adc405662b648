package client_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/sse"
)

// The server of these examples sends two events on each connection, the
// second of which carries an ID; the second time, it tells the client to
// stop with 204 No Content.
func exampleServer() *httptest.Server {
	var conns atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conns.Add(1) > 1 {
			fmt.Printf("reconnected with Last-Event-ID %q\n", r.Header.Get("Last-Event-ID"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 10\ndata: hello\n\nevent: price\nid: 1\ndata: 42\n\n")
	}))
}

func ExampleSubscriber_Connect() {
	srv := exampleServer()
	defer srv.Close()

	sub := &client.Subscriber{URL: srv.URL}
	stream, err := sub.Connect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for ev, err := range stream.Events() {
		if errors.Is(err, client.ErrBadStatus) {
			fmt.Println("server said:", err)
			break
		}
		fmt.Printf("%s event %q, ID %q\n", cmp.Or(ev.Type, "message"), ev.Data, ev.ID)
	}
	// Output:
	// message event "hello", ID ""
	// price event "42", ID "1"
	// reconnected with Last-Event-ID "1"
	// server said: client: HTTP 204 No Content
}

func ExampleStream_AddListener() {
	srv := exampleServer()
	defer srv.Close()

	sub := &client.Subscriber{
		URL:     srv.URL,
		OnOpen:  func() { fmt.Println("open") },
		OnError: func(err error) { fmt.Println("error:", err) },
	}
	stream, err := sub.Connect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	stream.AddListener("price", func(ev sse.Event) {
		fmt.Printf("price is now %s\n", ev.Data)
	})
	err = stream.Run() // until the stream ends for good
	fmt.Println(stream.ReadyState(), errors.Is(err, client.ErrBadStatus))
	// Output:
	// open
	// price is now 42
	// error: client: server ended the stream
	// reconnected with Last-Event-ID "1"
	// error: client: HTTP 204 No Content
	// CLOSED true
}

func ExamplePublisher_Publish() {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Println(r.Header.Get("Authorization"), r.PostForm["topic"], r.PostForm.Get("data"))
		io.WriteString(w, "urn:uuid:8d3f")
	}))
	defer hub.Close()

	p := &client.Publisher{URL: hub.URL, Token: "a.jwt.token"}
	id, err := p.Publish(context.Background(), client.Update{
		Topics: []string{"https://example.com/books/1"},
		Data:   []byte(`{"price": 42}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published", id)
	// Output:
	// Bearer a.jwt.token [https://example.com/books/1] {"price": 42}
	// published urn:uuid:8d3f
}

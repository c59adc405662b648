package client_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
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

// exampleHub starts a Herald hub on a memory journal and returns its URL
// and tokens to subscribe to and publish on any topic.
func exampleHub() (hubURL, subToken, pubToken string, stop func()) {
	key, err := auth.ParseKey([]byte(hubSecret))
	if err != nil {
		log.Fatal(err)
	}
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx)
	<-h.Started()
	srv, err := server.New(server.Config{Hub: h, Journal: j, PublisherKey: &key, SubscriberKey: &key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	mint := func(c auth.MintClaims) string {
		tok, err := auth.Mint(key, c)
		if err != nil {
			log.Fatal(err)
		}
		return tok
	}
	return ts.URL + "/.well-known/mercure", mint(auth.MintClaims{Subscribe: []string{"*"}}), mint(auth.MintClaims{Publish: []string{"*"}}), func() {
		srv.Drain()
		ts.Close()
		cancel()
	}
}

func ExampleSubscriber_webSocket() {
	hubURL, subToken, pubToken, stop := exampleHub()
	defer stop()

	// Published before the subscription: the stream starts from the
	// beginning of what the hub keeps.
	p := &client.WebSocketPublisher{URL: hubURL, Token: pubToken}
	defer p.Close()
	for _, price := range []string{"41", "42"} {
		if _, err := p.Publish(context.Background(), client.Update{
			Topics: []string{"https://example.com/books/1"}, Type: "price", Data: []byte(price),
		}); err != nil {
			log.Fatal(err)
		}
	}

	sub := &client.Subscriber{
		URL:         hubURL + "?topic=" + url.QueryEscape("https://example.com/books/{id}"),
		Transport:   client.TransportWebSocket, // or client.TransportPoll
		Header:      http.Header{"Authorization": {"Bearer " + subToken}},
		LastEventID: "earliest",
	}
	stream, err := sub.Connect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	n := 0
	for ev, err := range stream.Events() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s event %s\n", ev.Type, ev.Data)
		if n++; n == 2 {
			break
		}
	}
	// Output:
	// price event 41
	// price event 42
}

func ExampleWebSocketPublisher() {
	hubURL, _, pubToken, stop := exampleHub()
	defer stop()

	p := &client.WebSocketPublisher{URL: hubURL, Token: pubToken}
	defer p.Close()
	// The publishes of many goroutines share the socket; none waits for
	// the acknowledgements of the others.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			_, err := p.Publish(context.Background(), client.Update{
				Topics: []string{"https://example.com/books/1"},
				ID:     fmt.Sprintf("update-%d", i),
			})
			if err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()

	_, err := p.Publish(context.Background(), client.Update{Topics: []string{"https://example.com/books/1"}, ID: "update-1"})
	var refusal *client.StatusError
	if errors.As(err, &refusal) {
		fmt.Println(refusal.StatusCode, refusal.Message)
	}
	// Output:
	// 409 an event with this id already exists
}

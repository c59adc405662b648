package token_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/token"
)

// A publisher mints a token with the hub's key and publishes over HTTP.
func ExampleMint() {
	secret := []byte("a secret of at least 32 bytes, random in real life")

	h, err := herald.New(herald.Config{PublisherKey: secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()

	key, err := token.ParseKey(secret)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := token.Mint(key, token.Claims{
		Subject: "catalogue",
		Publish: []string{"https://example.com/books/{id}"},
		TTL:     time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}

	p := &client.Publisher{URL: srv.URL + "/.well-known/mercure", Token: tok}
	id, err := p.Publish(context.Background(), client.Update{
		Topics: []string{"https://example.com/books/1"},
		ID:     "book-1-price-42",
		Data:   []byte(`{"price": 42}`),
	})
	fmt.Println(id, err)

	// The token grants no other topic.
	_, err = p.Publish(context.Background(), client.Update{Topics: []string{"https://example.com/users/1"}})
	fmt.Println(err)
	// Output:
	// book-1-price-42 <nil>
	// client: HTTP 403 Forbidden: not allowed to publish to these topics
}

func ExampleVerify() {
	key, err := token.ParseKey([]byte("a secret of at least 32 bytes, random in real life"))
	if err != nil {
		log.Fatal(err)
	}
	tok, err := token.Mint(key, token.Claims{
		Subject:   "reader-7",
		Subscribe: []string{"https://example.com/books/{id}"},
		Payload:   map[string]string{"name": "Ada"},
	})
	if err != nil {
		log.Fatal(err)
	}

	c, err := token.Verify(key, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s may subscribe to %q and publish to %q; payload %s; expires: %v\n",
		c.Subject, c.Subscribe, c.Publish, c.Payload, !c.ExpiresAt.IsZero())

	other, _ := token.ParseKey([]byte("another secret"))
	_, err = token.Verify(other, tok)
	fmt.Println(errors.Is(err, token.ErrInvalid))
	// Output:
	// reader-7 may subscribe to ["https://example.com/books/{id}"] and publish to []; payload {"name":"Ada"}; expires: false
	// true
}

package herald_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
	"github.com/heraldhub/herald/token"
)

// start returns a hub for cfg served by an httptest server, and the hub
// URL. Both stop when the test ends, the hub first.
func start(t *testing.T, cfg herald.Config) (*herald.Hub, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return h, srv.URL + "/.well-known/mercure"
}

// subscribe connects to the hub's topic with header and returns the stream,
// closed when the test ends.
func subscribe(t *testing.T, hubURL, topic string, sub client.Subscriber) *client.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	t.Cleanup(cancel)
	sub.URL = hubURL + "?topic=" + url.QueryEscape(topic)
	stream, err := sub.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Close() })
	return stream
}

// next returns the next event of stream.
func next(t *testing.T, stream *client.Stream) sse.Event {
	t.Helper()
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		return ev
	}
	t.Fatal("stream ended")
	return sse.Event{}
}

func publish(t *testing.T, h *herald.Hub, u herald.Update) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	id, err := h.Publish(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// post publishes form over HTTP with tok and returns the status and body.
func post(t *testing.T, hubURL, tok string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", hubURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{Timeout: testutil.WaitTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// The zero Config makes a hub that works: a program publishes to it, and
// nobody gets in over HTTP without a key or Anonymous.
func TestZeroConfig(t *testing.T) {
	testutil.CheckNoLeaks(t)
	h, hubURL := start(t, herald.Config{})
	if id := publish(t, h, herald.Update{Topics: []string{"t"}, Data: []byte("x")}); id == "" {
		t.Error("Publish gave no ID")
	}
	if status, _ := post(t, hubURL, "", url.Values{"topic": {"t"}, "data": {"x"}}); status != http.StatusUnauthorized {
		t.Errorf("publish over HTTP without a key: %d, want 401", status)
	}
	resp, err := (&http.Client{Timeout: testutil.WaitTimeout}).Get(hubURL + "?topic=t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("subscribe without Anonymous: %d, want 401", resp.StatusCode)
	}
}

// An update published from Go reaches subscribers over every transport,
// private ones only those granted its topic.
func TestPublishReachesSubscribers(t *testing.T) {
	testutil.CheckNoLeaks(t)
	secret := []byte("test secret")
	h, hubURL := start(t, herald.Config{SubscriberKey: secret, Anonymous: true})
	key, err := token.ParseKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Mint(key, token.Claims{Subscribe: []string{"books/{id}"}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok}}

	anonymous := subscribe(t, hubURL, "books/{id}", client.Subscriber{})
	granted := map[client.Transport]*client.Stream{}
	for _, tr := range []client.Transport{client.TransportSSE, client.TransportPoll, client.TransportWebSocket} {
		granted[tr] = subscribe(t, hubURL, "books/{id}", client.Subscriber{Transport: tr, Header: bearer})
	}

	private := publish(t, h, herald.Update{Topics: []string{"books/1"}, Type: "price", Data: []byte("41\n42"), Private: true})
	public := publish(t, h, herald.Update{Topics: []string{"books/2"}, Data: []byte("in stock"), Retry: 1500 * time.Millisecond})

	for tr, stream := range granted {
		if ev := next(t, stream); ev.ID != private || ev.Type != "price" || string(ev.Data) != "41\n42" {
			t.Errorf("%v: first event %+v, want the private update %s", tr, ev, private)
		}
		if ev := next(t, stream); ev.ID != public || string(ev.Data) != "in stock" {
			t.Errorf("%v: second event %+v, want the public update %s", tr, ev, public)
		}
	}
	// The anonymous subscriber's first event is the public one: the
	// private one, published before, did not reach it.
	if ev := next(t, anonymous); ev.ID != public {
		t.Errorf("anonymous subscriber got %+v first, want the public update %s", ev, public)
	}
}

// Publish refuses what the HTTP endpoint refuses, with an error naming the
// field; the same update posted over HTTP gets 400 with the same words.
func TestPublishRefusesAsHTTPDoes(t *testing.T) {
	secret := []byte("test secret")
	h, hubURL := start(t, herald.Config{PublisherKey: secret})
	key, _ := token.ParseKey(secret)
	tok, err := token.Mint(key, token.Claims{Publish: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		u    herald.Update
		form url.Values
		want string
	}{
		{"no topic", herald.Update{Data: []byte("x")}, url.Values{"data": {"x"}}, "topic: at least one is required"},
		{"control in id", herald.Update{Topics: []string{"t"}, ID: "a\rb"}, url.Values{"topic": {"t"}, "id": {"a\rb"}}, "id: must not contain control characters"},
		{"reserved id", herald.Update{Topics: []string{"t"}, ID: "earliest"}, url.Values{"topic": {"t"}, "id": {"earliest"}}, "id: earliest is reserved"},
		{"data not UTF-8", herald.Update{Topics: []string{"t"}, Data: []byte{0xff}}, url.Values{"topic": {"t"}, "data": {"\xff"}}, "data: must be valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Publish(context.Background(), tc.u)
			if !errors.Is(err, herald.ErrInvalidUpdate) || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Publish: %v, want an ErrInvalidUpdate ending %q", err, tc.want)
			}
			status, body := post(t, hubURL, tok, tc.form)
			if status != http.StatusBadRequest || !strings.HasSuffix(body, tc.want) {
				t.Errorf("over HTTP: %d %q, want 400 ending %q", status, body, tc.want)
			}
		})
	}

	// Rules of the Go API alone, with what HTTP cannot express.
	for _, tc := range []struct {
		name string
		u    herald.Update
	}{
		{"hub topic", herald.Update{Topics: []string{"/.well-known/mercure/subscriptions/t"}}},
		{"negative retry", herald.Update{Topics: []string{"t"}, Retry: -time.Second}},
		{"retry over a day", herald.Update{Topics: []string{"t"}, Retry: 25 * time.Hour}},
	} {
		if _, err := h.Publish(context.Background(), tc.u); !errors.Is(err, herald.ErrInvalidUpdate) {
			t.Errorf("%s: Publish: %v, want an ErrInvalidUpdate", tc.name, err)
		}
	}

	publish(t, h, herald.Update{Topics: []string{"t"}, ID: "taken"})
	if _, err := h.Publish(context.Background(), herald.Update{Topics: []string{"t"}, ID: "taken"}); !errors.Is(err, herald.ErrDuplicateID) {
		t.Errorf("second publish of an ID: %v, want ErrDuplicateID", err)
	}
	if status, _ := post(t, hubURL, tok, url.Values{"topic": {"t"}, "id": {"taken"}}); status != http.StatusConflict {
		t.Errorf("over HTTP, an ID taken: %d, want 409", status)
	}
}

// A bbolt journal keeps the events across hubs: a subscriber of the next
// hub on the same file resumes after the last event it saw.
func TestBoltJournalOutlivesTheHub(t *testing.T) {
	testutil.CheckNoLeaks(t)
	file := filepath.Join(t.TempDir(), "events.db")
	cfg := herald.Config{Journal: file, Anonymous: true, Logger: slog.New(slog.DiscardHandler)}

	first, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, data := range []string{"one", "two", "three"} {
		ids = append(ids, publish(t, first, herald.Update{Topics: []string{"t"}, Data: []byte(data)}))
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	_, hubURL := start(t, cfg)
	stream := subscribe(t, hubURL, "t", client.Subscriber{LastEventID: ids[0]})
	for i, want := range []string{"two", "three"} {
		if ev := next(t, stream); ev.ID != ids[i+1] || string(ev.Data) != want {
			t.Errorf("replayed %+v, want %s %q", ev, ids[i+1], want)
		}
	}
}

// Retention bounds a memory journal too: a subscriber asking for
// everything gets what is kept.
func TestRetention(t *testing.T) {
	h, hubURL := start(t, herald.Config{Anonymous: true, Retention: herald.Retention{MaxEvents: 2}})
	for _, id := range []string{"a", "b", "c"} {
		publish(t, h, herald.Update{Topics: []string{"t"}, ID: id})
	}
	stream := subscribe(t, hubURL, "t", client.Subscriber{LastEventID: "earliest"})
	for _, want := range []string{"b", "c"} {
		if ev := next(t, stream); ev.ID != want {
			t.Errorf("replayed %q, want %q", ev.ID, want)
		}
	}
}

// Keys are given as PEM as well as secrets: a publisher signs with its
// private key, the hub verifies with the public one.
func TestPEMPublisherKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	_, hubURL := start(t, herald.Config{PublisherKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})})

	signer, err := token.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Mint(signer, token.Claims{Publish: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, hubURL, tok, url.Values{"topic": {"t"}, "id": {"signed"}}); status != http.StatusOK || body != "signed" {
		t.Errorf("publish with an EdDSA token: %d %q, want 200 signed", status, body)
	}
	other, _ := token.ParseKey([]byte("a secret"))
	forged, _ := token.Mint(other, token.Claims{Publish: []string{"t"}})
	if status, _ := post(t, hubURL, forged, url.Values{"topic": {"t"}}); status != http.StatusUnauthorized {
		t.Errorf("publish with an HS256 token: %d, want 401", status)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  herald.Config
	}{
		{"broken PEM", herald.Config{PublisherKey: []byte("-----BEGIN PUBLIC KEY-----\nno\n-----END PUBLIC KEY-----\n")}},
		{"empty subscriber key", herald.Config{SubscriberKey: []byte{}}},
		{"journal in a missing directory", herald.Config{Journal: filepath.Join(t.TempDir(), "missing", "events.db")}},
		{"CORS origin with a path", herald.Config{CORSOrigins: []string{"https://example.com/app"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			if h, err := herald.New(tc.cfg); err == nil {
				h.Close(context.Background())
				t.Fatal("New accepted it")
			}
		})
	}
}

// Limits reach the server: past MaxConnections a stream is refused.
func TestLimits(t *testing.T) {
	_, hubURL := start(t, herald.Config{Anonymous: true, Limits: herald.Limits{MaxConnections: 1}})
	subscribe(t, hubURL, "t", client.Subscriber{})
	resp, err := (&http.Client{Timeout: testutil.WaitTimeout}).Get(hubURL + "?topic=t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream with MaxConnections 1: %d, want 503", resp.StatusCode)
	}
}

// Close ends the open streams, then refuses requests and publishes; the
// journal is closed, so a new hub can open its file at once.
func TestClose(t *testing.T) {
	testutil.CheckNoLeaks(t)
	file := filepath.Join(t.TempDir(), "events.db")
	cfg := herald.Config{Journal: file, Anonymous: true, Logger: slog.New(slog.DiscardHandler)}
	h, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/.well-known/mercure?topic=t", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := sse.NewDecoder(resp.Body)
	id := publish(t, h, herald.Update{Topics: []string{"t"}})
	if ev, err := dec.Next(); err != nil || ev.ID != id {
		t.Fatalf("got %+v, %v; want %s", ev, err, id)
	}

	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, err := dec.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after Close the stream gave %+v, %v; want its end", ev, err)
	}
	if _, err := h.Publish(ctx, herald.Update{Topics: []string{"t"}}); !errors.Is(err, herald.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	for _, path := range []string{"/readyz", "/.well-known/mercure?topic=t"} {
		resp, err := (&http.Client{Timeout: testutil.WaitTimeout}).Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s after Close: %d, Retry-After %q; want 503 with one", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if err := h.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// bbolt locks its file while open: this New would wait for the lock
	// and fail had Close not closed the journal.
	again, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Close waits for the requests in flight, up to its context: a long poll
// ends with the drain, and Close returns once it has.
func TestCloseWaitsForPolls(t *testing.T) {
	testutil.CheckNoLeaks(t)
	h, err := herald.New(herald.Config{Anonymous: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	stream := subscribe(t, srv.URL+"/.well-known/mercure", "t", client.Subscriber{Transport: client.TransportPoll})
	id := publish(t, h, herald.Update{Topics: []string{"t"}})
	if ev := next(t, stream); ev.ID != id {
		t.Fatalf("got %+v, want %s", ev, id)
	}
	// The stream's next poll now waits for events; Close ends it.
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitTimeout)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A request that does not finish holds Close only until its context ends;
// Close then stops the hub anyway and says so.
func TestCloseGivesUpOnStuckRequests(t *testing.T) {
	secret := []byte("test secret")
	h, err := herald.New(herald.Config{PublisherKey: secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := token.ParseKey(secret)
	tok, _ := token.Mint(key, token.Claims{Publish: []string{"*"}})

	// A publish whose body never ends: its handler waits for the rest.
	body := &stuckBody{reading: make(chan struct{}), release: make(chan struct{})}
	req := httptest.NewRequest("POST", "/.well-known/mercure", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	answered := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		answered <- w.Code
	}()
	select {
	case <-body.reading:
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the publish never read its body")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a request stuck: %v, want the context's deadline", err)
	}
	close(body.release)
	select {
	case code := <-answered:
		// The journal was closed under it: the publisher is told to retry.
		if code != http.StatusServiceUnavailable {
			t.Errorf("the stuck publish got %d, want 503", code)
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the stuck publish was never answered")
	}
}

// stuckBody is a request body that says when it is first read, and then
// gives nothing until released.
type stuckBody struct {
	reading, release chan struct{}
	once             sync.Once
	sent             bool
}

func (b *stuckBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, "topic=t&data="), nil
	}
	b.once.Do(func() { close(b.reading) })
	<-b.release
	return 0, io.EOF
}

// TestStateTreeOutlivesTheHub: an embedded hub serves the state tree, and
// the tree a bolt journal keeps is there when the next hub opens it, even
// though retention dropped the events that wrote it.
func TestStateTreeOutlivesTheHub(t *testing.T) {
	testutil.CheckNoLeaks(t)
	file := filepath.Join(t.TempDir(), "events.db")
	cfg := herald.Config{
		Journal: file, Retention: herald.Retention{MaxEvents: 1},
		DB: herald.DB{AdminToken: "admin"}, Logger: slog.New(slog.DiscardHandler),
	}
	first, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(first)
	a := dbClient{t, ts.URL}
	a.must("PUT", "/a.json", `{"x":1,"y":2}`)
	a.must("PATCH", "/a.json", `{"y":3}`)
	a.must("PUT", "/b.json", `true`)
	ts.Close()
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, hubURL := start(t, cfg)
	if got, _ := (dbClient{t, strings.TrimSuffix(hubURL, "/.well-known/mercure")}).must("GET", "/.json", ""); got != `{"a":{"x":1,"y":3},"b":true}` {
		t.Fatalf("after reopening: %s", got)
	}
}

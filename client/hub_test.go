package client_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

const hubSecret = "client-test-secret-of-32-bytes-or-more"

// testHub is a real Herald server (hub, memory journal, HTTP server) that
// a test can restart on the same address with the same journal, as an
// operator restarts a node.
type testHub struct {
	t       *testing.T
	key     auth.Key
	journal journal.Journal
	config  func(*server.Config)
	addr    string
	URL     string // the hub URL

	srv     *server.Server
	ts      *httptest.Server
	stopHub func() error
}

// startHub starts a hub on a memory journal keeping retention; config, if
// not nil, adjusts the server's configuration.
func startHub(t *testing.T, retention journal.Retention, config func(*server.Config)) *testHub {
	t.Helper()
	key, err := auth.ParseKey([]byte(hubSecret))
	if err != nil {
		t.Fatal(err)
	}
	h := &testHub{t: t, key: key, journal: journal.NewMemory(retention), config: config, addr: "127.0.0.1:0"}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *testHub) start() {
	h.t.Helper()
	var l net.Listener
	testutil.CheckFor(h.t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		var err error
		l, err = net.Listen("tcp", h.addr)
		return err
	})
	hb := hub.New(h.journal, hub.Config{})
	h.stopHub = testutil.RunHub(h.t, hb)
	cfg := server.Config{
		Hub: hb, Journal: h.journal, PublisherKey: &h.key, SubscriberKey: &h.key,
		Heartbeat: -1,
		// Streams come back as soon as the hub does.
		RetryHint: time.Millisecond,
		Logger:    slog.New(slog.DiscardHandler),
	}
	if h.config != nil {
		h.config(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv = srv
	h.ts = &httptest.Server{Listener: l, Config: &http.Server{Handler: srv}}
	h.ts.Start()
	h.addr = l.Addr().String()
	h.URL = h.ts.URL + "/.well-known/mercure"
}

// stop drains the server, as on SIGTERM, closes every connection and
// stops the hub; the journal stays.
func (h *testHub) stop() {
	if h.ts == nil {
		return
	}
	h.srv.Drain()
	h.ts.CloseClientConnections()
	h.ts.Close()
	h.stopHub()
	h.ts = nil
}

// restart stops the server and starts a new one on the same address and
// journal: every client loses its connection, and finds the hub back.
func (h *testHub) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

func (h *testHub) token(c auth.MintClaims) string {
	h.t.Helper()
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	tok, err := auth.Mint(h.key, c)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// publish publishes data on topic over HTTP and returns the event ID.
func (h *testHub) publish(topic, data string) string {
	h.t.Helper()
	p := &client.Publisher{URL: h.URL, Token: h.token(auth.MintClaims{Publish: []string{"*"}})}
	id, err := p.Publish(context.Background(), client.Update{Topics: []string{topic}, Data: []byte(data)})
	if err != nil {
		h.t.Fatalf("publish %q: %v", data, err)
	}
	return id
}

// subscriber returns a Subscriber to topic over tr, allowed every topic,
// that reconnects at once.
func (h *testHub) subscriber(tr client.Transport, topic string) *client.Subscriber {
	return &client.Subscriber{
		URL:          h.URL + "?topic=" + url.QueryEscape(topic),
		Transport:    tr,
		Header:       http.Header{"Authorization": {"Bearer " + h.token(auth.MintClaims{Subscribe: []string{"*"}})}},
		InitialRetry: time.Millisecond,
		MaxRetry:     10 * time.Millisecond,
		// A test that would hang fails instead.
		ReadTimeout: testutil.WaitTimeout,
	}
}

// transports lists every transport, for tests that run over each.
var transports = []client.Transport{client.TransportSSE, client.TransportPoll, client.TransportWebSocket}

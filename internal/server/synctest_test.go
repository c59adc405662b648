package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// syncWriter is a streaming ResponseWriter for tests in a synctest bubble,
// where real sockets cannot be used.
type syncWriter struct {
	mu     sync.Mutex
	header http.Header
	status int
	body   strings.Builder
}

func (w *syncWriter) Header() http.Header { return w.header }
func (w *syncWriter) WriteHeader(s int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = s
	}
}
func (w *syncWriter) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}
func (w *syncWriter) Flush()                           {}
func (w *syncWriter) SetWriteDeadline(time.Time) error { return nil }
func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// bubbleServer runs a hub and server inside the current synctest bubble and
// serves one subscribe request; it returns the writer and a channel closed
// when the handler returns.
func bubbleServer(t *testing.T, cfg server.Config, header http.Header) (*syncWriter, chan struct{}, context.CancelFunc) {
	t.Helper()
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{})
	testutil.RunHub(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	cfg.Hub, cfg.Journal = h, j
	// A bubble has no real sockets: streams are written by their handler.
	cfg.GoroutineStreams = true
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(ctx, "GET", "/.well-known/mercure?topic=t", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := &syncWriter{header: http.Header{}}
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeHTTP(w, req) }()
	return w, done, cancel
}

func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, done, cancel := bubbleServer(t, server.Config{Anonymous: true, Heartbeat: 15 * time.Second, RetryHint: -1}, nil)
		synctest.Wait()
		start := w.String()
		time.Sleep(14 * time.Second)
		synctest.Wait()
		if got := w.String(); got != start {
			t.Fatalf("heartbeat before its interval: %q", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := w.String(); got != start+":\n" {
			t.Fatalf("after 16s stream is %q, want one heartbeat after %q", got, start)
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if got := strings.Count(w.String(), ":\n"); got != 2+strings.Count(start, ":\n") {
			t.Fatalf("after 31s: %q", w.String())
		}
		cancel()
		<-done
	})
}

func TestTokenExpiryEndsStreamSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key, err := auth.ParseKey([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := auth.Mint(key, auth.MintClaims{Subscribe: []string{"*"}, TTL: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		_, done, cancel := bubbleServer(t, server.Config{SubscriberKey: &key, Heartbeat: -1},
			http.Header{"Authorization": {"Bearer " + tok}})
		defer cancel()
		time.Sleep(9 * time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("stream ended before the token expired")
		default:
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("stream still open after the token expired")
		}
	})
}

func TestMaxLifetimeJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, done, cancel := bubbleServer(t, server.Config{Anonymous: true, Heartbeat: -1, MaxLifetime: time.Hour}, nil)
		defer cancel()
		time.Sleep(54 * time.Minute) // jitter is ±10%: never before 54 minutes
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("stream ended before 90% of its lifetime")
		default:
		}
		time.Sleep(12 * time.Minute)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("stream outlived 110% of its lifetime")
		}
	})
}

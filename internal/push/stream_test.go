package push_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhub/herald/internal/push"
)

// recorder is a FrameWriter that keeps what was written.
type recorder struct {
	mu  sync.Mutex
	out strings.Builder
}

func (r *recorder) WriteFrames(frames ...[]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range frames {
		r.out.Write(f)
	}
	return nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// The goroutine writer follows the pool's rules: heartbeats only on a
// stream quiet for half an interval at a tick, the last frame at the end.
func TestStreamHeartbeatsAndGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		src.goodbye = []byte("event: auth_revoked\ndata: null\n\n")
		var w recorder
		errc := make(chan error, 1)
		go func() {
			errc <- push.Stream(context.Background(), &w, src, push.StreamConfig{Heartbeat: 10 * time.Second})
		}()

		time.Sleep(6 * time.Second)
		src.send("data: 1\n\n")
		synctest.Wait()
		time.Sleep(4 * time.Second) // the tick at 10s: written 4s ago
		synctest.Wait()
		if got := w.String(); got != "data: 1\n\n" {
			t.Fatalf("after the first tick: %q, want no heartbeat", got)
		}
		time.Sleep(10 * time.Second) // the tick at 20s: quiet for 14s
		synctest.Wait()
		if got := w.String(); got != "data: 1\n\n:\n" {
			t.Fatalf("after the second tick: %q, want one heartbeat", got)
		}
		reason := errors.New("token expired")
		src.end(reason)
		if err := <-errc; err != reason {
			t.Fatalf("Stream returned %v, want %v", err, reason)
		}
		if got := w.String(); !strings.HasSuffix(got, "event: auth_revoked\ndata: null\n\n") {
			t.Fatalf("stream ends %q, want the goodbye frame", got)
		}
		if got := src.sent.Load(); got != int64(len(w.String())) {
			t.Fatalf("the source was told of %d bytes sent, want the %d written", got, len(w.String()))
		}
		select {
		case <-src.closed:
			t.Fatal("Stream called Closed: its caller releases the stream")
		default:
		}
	})
}

// A client that leaves (the request's context ends) ends the stream with
// the context's cause.
func TestStreamEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	gone := errors.New("client left")
	cancel(gone)
	var w recorder
	if err := push.Stream(ctx, &w, newSource(), push.StreamConfig{}); err != gone {
		t.Fatalf("Stream returned %v, want %v", err, gone)
	}
}

package sse_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/sse"
)

// startStream serves one event stream whose handler runs the steps sent on
// the returned channel, each with the stream's Writer, and reports their
// errors on the other channel.
func startStream(t *testing.T, h2 bool) (client *http.Client, url string, steps chan<- func(*sse.Writer) error, errs <-chan error) {
	t.Helper()
	stepc, errc := make(chan func(*sse.Writer) error), make(chan error, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := sse.NewWriter(rw)
		if err := w.Flush(); err != nil {
			errc <- err
			return
		}
		for {
			select {
			case step := <-stepc:
				if err := step(w); err != nil {
					errc <- err
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	}))
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.Client(), srv.URL, stepc, errc
}

func TestWriterStreams(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("HTTP/2=%v", h2), func(t *testing.T) {
			client, url, steps, errs := startStream(t, h2)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if h2 && resp.ProtoMajor != 2 {
				t.Fatalf("served over %s, want HTTP/2", resp.Proto)
			}
			for name, want := range map[string]string{
				"Content-Type":      "text/event-stream",
				"Cache-Control":     "no-cache",
				"X-Accel-Buffering": "no",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}

			var comments []string
			d := sse.NewDecoder(resp.Body)
			d.OnComment = func(text string) { comments = append(comments, text) }
			// Each step runs only after the events of the one before have
			// been read: the stream delivers each write at once.
			ev1 := sse.Event{ID: "1", Type: "greeting", Data: []byte("hello\nworld"), Retry: time.Second}
			frames, _ := sse.Event{ID: "2", Data: []byte("two")}.AppendTo(nil)
			frames = sse.AppendRetry(frames, 5*time.Second)
			frames, _ = sse.Event{Data: []byte("three")}.AppendTo(frames)
			tests := []struct {
				step func(*sse.Writer) error
				want []event
			}{
				{func(w *sse.Writer) error { return w.Event(ev1) },
					[]event{{ID: "1", Type: "greeting", Data: "hello\nworld", Retry: time.Second}}},
				{func(w *sse.Writer) error {
					if err := w.Comment("heartbeat"); err != nil {
						return err
					}
					return w.Write(frames)
				}, []event{{ID: "2", Data: "two"}, {ID: "2", Data: "three"}}},
				{func(w *sse.Writer) error {
					four, _ := sse.Event{ID: "4", Data: []byte("four")}.AppendTo(nil)
					five, _ := sse.Event{Data: []byte("five")}.AppendTo(nil)
					return w.WriteFrames(four, five)
				}, []event{{ID: "4", Data: "four"}, {ID: "4", Data: "five"}}},
			}
			for i, tt := range tests {
				steps <- tt.step
				for _, want := range tt.want {
					ev, err := d.Next()
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if got := toEvent(ev); got != want {
						t.Fatalf("step %d: got %+v, want %+v", i, got, want)
					}
				}
			}
			if !reflect.DeepEqual(comments, []string{"heartbeat"}) || d.Retry() != 5*time.Second {
				t.Errorf("comments %q, retry %v", comments, d.Retry())
			}
			select {
			case err := <-errs:
				t.Fatalf("handler: %v", err)
			default:
			}
		})
	}
}

func TestWriterRefusesInvalidEvent(t *testing.T) {
	rec := httptest.NewRecorder()
	w := sse.NewWriter(rec)
	if err := w.Event(sse.Event{Type: "a\nb", Data: []byte("x")}); !errors.Is(err, sse.ErrInvalidField) {
		t.Fatalf("Event error = %v, want ErrInvalidField", err)
	}
	if rec.Body.Len() != 0 || rec.Flushed {
		t.Fatalf("wrote %q (flushed %v) for an invalid event", rec.Body, rec.Flushed)
	}
}

// deadlineRecorder records the calls a Writer makes on its ResponseWriter.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	calls []string
	now   func() time.Time
}

func (r *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		r.calls = append(r.calls, "clear")
	} else {
		r.calls = append(r.calls, "deadline "+t.Sub(r.now()).Round(time.Second).String())
	}
	return nil
}

func (r *deadlineRecorder) Write(p []byte) (int, error) {
	r.calls = append(r.calls, "write")
	return r.ResponseRecorder.Write(p)
}

func (r *deadlineRecorder) Flush() {
	r.calls = append(r.calls, "flush")
	r.ResponseRecorder.Flush()
}

func TestWriterTimeout(t *testing.T) {
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), now: time.Now}
	w := sse.NewWriter(rec)
	if err := w.Event(sse.Event{Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	w.SetWriteTimeout(30 * time.Second)
	if err := w.Comment("b"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	w.SetWriteTimeout(0)
	if err := w.Write([]byte(": c\n")); err != nil {
		t.Fatal(err)
	}
	// The deadline covers the write and the flush, and is cleared after,
	// so that an idle stream never runs into it.
	want := []string{
		"write", "flush",
		"deadline 30s", "write", "flush", "clear",
		"deadline 30s", "flush", "clear",
		"write", "flush",
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls:\n got %q\nwant %q", rec.calls, want)
	}
	if got := rec.Body.String(); got != "data: a\n\n: b\n: c\n" {
		t.Errorf("body %q", got)
	}
}

func TestWriterTimeoutNotSupported(t *testing.T) {
	w := sse.NewWriter(httptest.NewRecorder())
	w.SetWriteTimeout(time.Second)
	if err := w.Event(sse.Event{Data: []byte("a")}); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Event error = %v, want http.ErrNotSupported", err)
	}
}

// TestWriterTimeoutStalledClient connects a client that never reads: once
// the socket buffers are full, a write must fail at its deadline instead of
// blocking the handler.
func TestWriterTimeoutStalledClient(t *testing.T) {
	errc := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := sse.NewWriter(rw)
		w.SetWriteTimeout(100 * time.Millisecond)
		frame, _ := sse.Event{Data: []byte(strings.Repeat("x", 64<<10))}.AppendTo(nil)
		for {
			if err := w.Write(frame); err != nil {
				errc <- err
				return
			}
		}
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read the status line only, then stall.
	if status, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(status, "200") {
		t.Fatalf("status %q, %v", status, err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write error = %v, want a deadline error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("handler still writing to a stalled client")
	}
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	sse.SetHeaders(h)
	want := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}, "X-Accel-Buffering": {"no"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("headers = %v, want %v", h, want)
	}
}

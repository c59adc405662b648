package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
)

// BenchmarkEvents measures the events per second one Stream receives over
// loopback, with a 100-byte payload: the client's own cost per event
// (decoding, dispatch, iteration) on top of the socket.
func BenchmarkEvents(b *testing.B) {
	frame := "id: 123456\ndata: " + strings.Repeat("x", 100) + "\n\n"
	batch := strings.Repeat(frame, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for r.Context().Err() == nil {
			if _, err := w.Write([]byte(batch)); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	st, err := (&client.Subscriber{URL: srv.URL, HTTPClient: srv.Client()}).Connect(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	start := time.Now()
	n := 0
	for _, err := range st.Events() {
		if err != nil {
			b.Fatal(err)
		}
		if n++; n == b.N {
			break
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

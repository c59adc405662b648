package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhub/herald/client"
)

// These tests run in a synctest bubble, where time is fake and exact: a
// wait of 3s takes exactly 3s. The network is replaced by fakeTransport,
// because real sockets are not part of a bubble.

// step is one piece of a scripted response: after a pause, some bytes.
type step struct {
	pause time.Duration
	data  string
}

// reply scripts the response to one connection attempt.
type reply struct {
	err   error  // the attempt fails with err
	steps []step // otherwise a 200 event stream sends these
	hold  bool   // and then stays open (instead of ending) until cancelled
}

// fakeTransport answers attempt n with replies[n], and records when each
// attempt was made.
type fakeTransport struct {
	mu       sync.Mutex
	replies  []reply
	attempts []time.Time
	lastIDs  []string
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	n := len(f.attempts)
	f.attempts = append(f.attempts, time.Now())
	f.lastIDs = append(f.lastIDs, req.Header.Get("Last-Event-ID"))
	rep := reply{hold: true} // past the script: a silent open stream
	if n < len(f.replies) {
		rep = f.replies[n]
	}
	f.mu.Unlock()
	if rep.err != nil {
		return nil, rep.err
	}
	ctx := req.Context()
	pr, pw := io.Pipe()
	// The client cancels the request to end the connection.
	context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	go func() {
		for _, s := range rep.steps {
			select {
			case <-time.After(s.pause):
			case <-ctx.Done():
				return
			}
			if _, err := io.WriteString(pw, s.data); err != nil {
				return
			}
		}
		if !rep.hold {
			pw.Close()
		}
	}()
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       pr,
		Request:    req,
	}, nil
}

// gaps returns the time between consecutive attempts.
func (f *fakeTransport) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d []time.Duration
	for i := 1; i < len(f.attempts); i++ {
		d = append(d, f.attempts[i].Sub(f.attempts[i-1]))
	}
	return d
}

var errRefused = errors.New("connection refused")

// runScript connects a Subscriber through f, reads until there have been
// want attempts, and closes the stream.
func runScript(t *testing.T, sub *client.Subscriber, f *fakeTransport, want int) {
	t.Helper()
	sub.URL = "http://hub.test/events"
	sub.HTTPClient = &http.Client{Transport: f}
	st, err := sub.Connect(context.Background())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	done := make(chan error)
	go func() { done <- st.Run() }()
	for {
		synctest.Wait()
		f.mu.Lock()
		n := len(f.attempts)
		f.mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	st.Close()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestRetryFieldSetsReconnectionTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{replies: []reply{
			{steps: []step{{0, "data: default\n\n"}}},
			{steps: []step{{0, "retry: 1500\ndata: x\n\n"}}},
			{steps: []step{{0, "data: kept\n\n"}}}, // the retry value outlives its connection
			{steps: []step{{0, "retry: 60000\n\n"}}},
		}}
		sub := &client.Subscriber{InitialRetry: 2 * time.Second, MaxRetry: 10 * time.Second}
		runScript(t, sub, f, 5)
		want := []time.Duration{2 * time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond, time.Minute}
		if got := f.gaps(); !slices.Equal(got, want) {
			t.Errorf("gaps between attempts = %v, want %v (a retry beyond MaxRetry still wins)", got, want)
		}
	})
}

func TestDefaultInitialRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{replies: []reply{{steps: []step{{0, ":hi\n"}}}}}
		runScript(t, &client.Subscriber{}, f, 2)
		if got := f.gaps(); !slices.Equal(got, []time.Duration{client.DefaultInitialRetry}) {
			t.Errorf("gap = %v, want %v", got, client.DefaultInitialRetry)
		}
	})
}

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const base, ceiling = time.Second, 10 * time.Second
		good := reply{steps: []step{{0, "data: x\n\n"}}}
		f := &fakeTransport{replies: []reply{
			good,
			{err: errRefused}, {err: errRefused}, {err: errRefused}, {err: errRefused},
			{err: errRefused},
			{}, // a connection that says nothing does not reset the backoff
			good,
			{err: errRefused},
		}}
		var errs errorLog
		sub := &client.Subscriber{InitialRetry: base, MaxRetry: ceiling, OnError: errs.Add}
		runScript(t, sub, f, 10)

		// Attempt n after the last good connection waits within [d/2, d],
		// d = min(base·2^(n-1), ceiling); the first waits exactly base.
		limits := []time.Duration{base, 2 * base, 4 * base, 8 * base, ceiling, ceiling, ceiling, base, 2 * base}
		gaps := f.gaps()
		if len(gaps) != len(limits) {
			t.Fatalf("gaps = %v, want %d", gaps, len(limits))
		}
		for i, d := range limits {
			lo := d - d/2
			if i == 0 || i == 7 {
				lo = d // right after a good connection: exactly the reconnection time
			}
			if gaps[i] < lo || gaps[i] > d {
				t.Errorf("gap %d = %v, want within [%v, %v]", i+1, gaps[i], lo, d)
			}
		}
		// One error per lost connection and per failed attempt.
		if got := len(errs.Errors()); got != 9 {
			t.Errorf("OnError called %d times, want 9: %v", got, errs.Errors())
		}
	})
}

func TestReadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Second
		// Heartbeats 0.9s apart keep the connection; then silence drops it
		// exactly one timeout after the last byte.
		var steps []step
		for range 5 {
			steps = append(steps, step{900 * time.Millisecond, ":\n"})
		}
		f := &fakeTransport{replies: []reply{{steps: steps, hold: true}}}
		var errs errorLog
		var dropped time.Time
		sub := &client.Subscriber{
			ReadTimeout:  timeout,
			InitialRetry: 100 * time.Millisecond,
			OnError: func(err error) {
				dropped = time.Now()
				errs.Add(err)
			},
		}
		start := time.Now()
		runScript(t, sub, f, 2)
		if got := errs.Errors(); len(got) != 1 || !errors.Is(got[0], client.ErrReadTimeout) {
			t.Fatalf("errors = %v, want [ErrReadTimeout]", got)
		}
		if got, want := dropped.Sub(start), 5*900*time.Millisecond+timeout; got != want {
			t.Errorf("dropped after %v, want %v", got, want)
		}
		if got := f.gaps(); !slices.Equal(got, []time.Duration{5*900*time.Millisecond + timeout + 100*time.Millisecond}) {
			t.Errorf("gap = %v", got)
		}
	})
}

func TestReadTimeoutWaitingForHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		silent := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, context.Cause(req.Context())
		})
		sub := &client.Subscriber{
			URL:         "http://hub.test/events",
			HTTPClient:  &http.Client{Transport: silent},
			ReadTimeout: time.Second,
		}
		start := time.Now()
		_, err := sub.Connect(context.Background())
		if !errors.Is(err, client.ErrReadTimeout) {
			t.Errorf("Connect = %v, want ErrReadTimeout", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("gave up after %v, want 1s", got)
		}
	})
}

func TestRestartCutsWaitShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTransport{replies: []reply{
			{steps: []step{{0, "id: 1\ndata: x\n\n"}}},
		}}
		sub := &client.Subscriber{
			URL:          "http://hub.test/events",
			HTTPClient:   &http.Client{Transport: f},
			InitialRetry: time.Hour,
		}
		st, err := sub.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- st.Run() }()
		time.Sleep(time.Minute) // well into the hour-long wait
		synctest.Wait()
		if st.ReadyState() != client.Connecting {
			t.Fatalf("ReadyState = %v, want CONNECTING", st.ReadyState())
		}
		st.Restart()
		synctest.Wait()
		if got := f.gaps(); !slices.Equal(got, []time.Duration{time.Minute}) {
			t.Errorf("gap = %v, want the restart one minute in", got)
		}
		f.mu.Lock()
		if got := f.lastIDs[1]; got != "1" {
			t.Errorf("Last-Event-ID = %q, want 1", got)
		}
		f.mu.Unlock()
		if st.ReadyState() != client.Open {
			t.Errorf("ReadyState = %v, want OPEN", st.ReadyState())
		}
		st.Close()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

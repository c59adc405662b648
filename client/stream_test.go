package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

func connect(t *testing.T, sub *client.Subscriber) *client.Stream {
	t.Helper()
	st, err := sub.Connect(context.Background())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEvents(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	st := connect(t, fastSubscriber(srv.Server))
	if got := st.ReadyState(); got != client.Open {
		t.Fatalf("ReadyState after Connect = %v, want OPEN", got)
	}
	c := srv.Accept(t)
	r := read(st)
	c.Send("data: one\n\nevent: greeting\nid: 7\ndata: two\ndata: lines\n\n")
	c.Send("data: thr")
	c.Send("ee\n\n")

	want := []sse.Event{
		{Data: []byte("one")},
		{Type: "greeting", ID: "7", Data: []byte("two\nlines")},
		{ID: "7", Data: []byte("three")},
	}
	for _, w := range want {
		got := r.Next(t)
		if got.Type != w.Type || got.ID != w.ID || string(got.Data) != string(w.Data) {
			t.Errorf("event = %+v, want %+v", got, w)
		}
	}
	if got := st.LastEventID(); got != "7" {
		t.Errorf("LastEventID = %q, want 7", got)
	}
	st.Close()
	if err := r.End(t); err != nil {
		t.Errorf("iteration ended with %v after Close, want no error", err)
	}
	if got := st.ReadyState(); got != client.Closed {
		t.Errorf("ReadyState after Close = %v, want CLOSED", got)
	}
}

func TestListeners(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	st := connect(t, fastSubscriber(srv.Server))

	var mu sync.Mutex
	var got []string
	record := func(name string) func(sse.Event) {
		return func(ev sse.Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, name+":"+string(ev.Data))
		}
	}
	st.AddListener("message", record("message"))
	st.AddListener("", record("unnamed"))
	st.AddListener("greeting", record("greeting"))
	removeSecond := st.AddListener("greeting", record("greeting2"))

	// waitCalls waits until the listeners have been called n times and
	// returns their calls.
	waitCalls := func(n int) []string {
		t.Helper()
		var calls []string
		testutil.CheckFor(t, testutil.WaitTimeout, time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if calls = slices.Clone(got); len(calls) < n {
				return fmt.Errorf("%d listener calls, want %d: %v", len(calls), n, calls)
			}
			return nil
		})
		return calls
	}

	runErr := make(chan error, 1)
	go func() { runErr <- st.Run() }()
	c := srv.Accept(t)
	c.Send("data: a\n\nevent: greeting\ndata: b\n\nevent: other\ndata: c\n\n")
	want := []string{"message:a", "unnamed:a", "greeting:b", "greeting2:b"}
	waitCalls(len(want))

	removeSecond()
	removeSecond() // removing twice is harmless
	// Neither c nor, once removed, greeting2 is called for: the calls for e
	// follow those for b and d.
	c.Send("event: greeting\ndata: d\n\ndata: e\n\n")
	want = append(want, "greeting:d", "message:e", "unnamed:e")
	if calls := waitCalls(len(want)); !slices.Equal(calls, want) {
		t.Errorf("listener calls = %v, want %v", calls, want)
	}

	if err := st.Run(); !errors.Is(err, client.ErrAlreadyReading) {
		t.Errorf("second Run = %v, want ErrAlreadyReading", err)
	}
	st.Close()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run after Close = %v, want nil", err)
		}
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("Run did not return after Close")
	}
}

func TestLastEventID(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	sub := fastSubscriber(srv.Server)
	sub.LastEventID = "start"
	st := connect(t, sub)
	r := read(st)

	c := srv.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "start" {
		t.Errorf("first Last-Event-ID = %q, want the configured start", got)
	}
	// A reconnection before any ID resends the configured one.
	c.Drop()
	c = srv.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "start" {
		t.Errorf("Last-Event-ID = %q, want start again", got)
	}
	// The last dispatched ID is sent; an unfinished event's is not.
	c.Send("id: abc\ndata: one\n\ndata: two\n\nid: def\ndata: unfinished")
	r.Next(t)
	r.Next(t)
	c.Drop()
	c = srv.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "abc" {
		t.Errorf("Last-Event-ID = %q, want abc", got)
	}
	// The unfinished event was discarded.
	c.Send("data: next\n\n")
	if ev := r.Next(t); string(ev.Data) != "next" || ev.ID != "abc" {
		t.Errorf("event after reconnection = %+v, want data next with ID abc", ev)
	}
	// A block without data still sets the ID.
	c.Send("id: silent\n\n")
	c.Drop()
	c = srv.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "silent" {
		t.Errorf("Last-Event-ID = %q, want silent (set by a block without data)", got)
	}
	// An empty id resets it, also as the first id of a connection: no
	// header at all.
	c.Send("id\ndata: reset\n\n")
	if ev := r.Next(t); ev.ID != "" {
		t.Errorf("event ID = %q after an empty id field, want empty", ev.ID)
	}
	c.Drop()
	c = srv.Accept(t)
	if v, ok := c.Header["Last-Event-Id"]; ok {
		t.Errorf("Last-Event-ID %q sent after the ID was reset", v)
	}
}

func TestReconnectsAfterEndOfStream(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	var opens atomic.Int32
	var errs errorLog
	sub := fastSubscriber(srv.Server)
	sub.OnOpen = func() { opens.Add(1) }
	sub.OnError = errs.Add
	st := connect(t, sub)
	r := read(st)

	c := srv.Accept(t)
	c.Send("data: before\n\n")
	r.Next(t)
	c.Drop()
	c = srv.Accept(t)
	c.Send("data: after\n\n")
	if ev := r.Next(t); string(ev.Data) != "after" {
		t.Fatalf("event = %q, want after", ev.Data)
	}
	if got := opens.Load(); got != 2 {
		t.Errorf("OnOpen called %d times, want 2", got)
	}
	if got := errs.Errors(); len(got) != 1 || !errors.Is(got[0], client.ErrStreamEnded) {
		t.Errorf("OnError got %v, want [ErrStreamEnded]", got)
	}
	if got := st.ReadyState(); got != client.Open {
		t.Errorf("ReadyState = %v, want OPEN", got)
	}
}

func TestComments(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	comments := make(chan string, 10)
	sub := fastSubscriber(srv.Server)
	sub.OnComment = func(text string) { comments <- text }
	r := read(connect(t, sub))
	c := srv.Accept(t)
	c.Send(": heartbeat\n:raw\ndata: x\n\n")
	r.Next(t)
	for _, want := range []string{"heartbeat", "raw"} {
		select {
		case got := <-comments:
			if got != want {
				t.Errorf("comment = %q, want %q", got, want)
			}
		default:
			t.Fatalf("comment %q not reported before the event that follows it", want)
		}
	}
}

func TestRestart(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	var errs errorLog
	sub := fastSubscriber(srv.Server)
	sub.InitialRetry = time.Hour // a restart does not wait
	sub.OnError = errs.Add
	st := connect(t, sub)
	r := read(st)
	c := srv.Accept(t)
	c.Send("id: 1\ndata: before\n\n")
	r.Next(t)
	st.Restart()
	c = srv.Accept(t)
	if got := c.Header.Get("Last-Event-ID"); got != "1" {
		t.Errorf("Last-Event-ID after restart = %q, want 1", got)
	}
	c.Send("data: after\n\n")
	if ev := r.Next(t); string(ev.Data) != "after" {
		t.Errorf("event = %q, want after", ev.Data)
	}
	if got := errs.Errors(); len(got) != 0 {
		t.Errorf("a restart reported errors: %v", got)
	}
}

func TestContextCancel(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	sub := fastSubscriber(srv.Server)
	st, err := sub.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := read(st)
	srv.Accept(t)
	cancel()
	if err := r.End(t); !errors.Is(err, context.Canceled) {
		t.Errorf("iteration ended with %v, want context.Canceled", err)
	}
	if got := st.ReadyState(); got != client.Closed {
		t.Errorf("ReadyState = %v, want CLOSED", got)
	}
}

func TestBreakAndResume(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	st := connect(t, fastSubscriber(srv.Server))
	c := srv.Accept(t)
	c.Send("data: 1\n\ndata: 2\n\n")
	for ev, err := range st.Events() {
		if err != nil || string(ev.Data) != "1" {
			t.Fatalf("first event = %q, %v", ev.Data, err)
		}
		break
	}
	if got := st.ReadyState(); got != client.Open {
		t.Fatalf("ReadyState after break = %v, want OPEN", got)
	}
	if ev := read(st).Next(t); string(ev.Data) != "2" {
		t.Errorf("event after resuming = %q, want 2", ev.Data)
	}
}

func TestCloseWithoutReading(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := testutil.NewScriptedServer(t)
	st := connect(t, fastSubscriber(srv.Server))
	srv.Accept(t)
	st.Close()
	if got := st.ReadyState(); got != client.Closed {
		t.Errorf("ReadyState = %v, want CLOSED", got)
	}
	if err := st.Run(); err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
}

func TestEventTooLargeCloses(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	sub := fastSubscriber(srv.Server)
	sub.MaxEventSize = 8
	r := read(connect(t, sub))
	c := srv.Accept(t)
	c.Send("data: 0123456789\n\n")
	if err := r.End(t); !errors.Is(err, sse.ErrEventTooLarge) {
		t.Errorf("stream ended with %v, want sse.ErrEventTooLarge", err)
	}
	// The closed stream does not reconnect: the next connection is that of
	// another subscriber, opened after it.
	next := fastSubscriber(srv.Server)
	next.LastEventID = "next"
	connect(t, next)
	if got := srv.Accept(t).Header.Get("Last-Event-ID"); got != "next" {
		t.Errorf("connection with Last-Event-ID %q after the stream closed, want the next subscriber's", got)
	}
}

func TestNoGoroutineLeft(t *testing.T) {
	testutil.CheckNoLeaks(t)
	srv := testutil.NewScriptedServer(t)
	sub := fastSubscriber(srv.Server)
	sub.ReadTimeout = time.Minute
	st := connect(t, sub)
	r := read(st)
	st.AddListener("message", func(sse.Event) {})
	c := srv.Accept(t)
	c.Send("data: x\n\n")
	r.Next(t)
	c.Drop()
	srv.Accept(t).Send("data: y\n\n")
	r.Next(t)
	st.Close()
	if err := r.End(t); err != nil {
		t.Fatal(err)
	}
}

func TestBOMAfterReconnection(t *testing.T) {
	srv := testutil.NewScriptedServer(t)
	r := read(connect(t, fastSubscriber(srv.Server)))
	c := srv.Accept(t)
	c.Send("\xEF\xBB\xBFid: 1\ndata: first\n\n")
	r.Next(t)
	c.Drop()
	// The stream resumes with an ID; a byte order mark, even split across
	// reads, is still skipped, and only once.
	c = srv.Accept(t)
	for _, b := range []string{"\xEF", "\xBB", "\xBF", "data: \xEF\xBB\xBFsecond\n\n"} {
		c.Send(b)
	}
	if ev := r.Next(t); string(ev.Data) != "\uFEFFsecond" || ev.ID != "1" {
		t.Errorf("event = %q with ID %q, want \\uFEFFsecond with ID 1", ev.Data, ev.ID)
	}
	c.Drop()
	c = srv.Accept(t)
	c.Send("\xEF\xBBdata: not a BOM\n\n\xEF\xBB\xBFdata: x\n\n")
	c.Send("data: third\n\n")
	if ev := r.Next(t); string(ev.Data) != "third" {
		t.Errorf("event = %q, want third (the other lines have unknown field names)", ev.Data)
	}
}

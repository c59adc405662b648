package sse_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/heraldhub/herald/sse"
)

func ExampleEvent_AppendTo() {
	ev := sse.Event{
		ID:    "42",
		Type:  "update",
		Data:  []byte("first line\nsecond line"),
		Retry: 3 * time.Second,
	}
	frame, err := ev.AppendTo(nil)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(frame)
	// Output:
	// id: 42
	// event: update
	// retry: 3000
	// data: first line
	// data: second line
}

func ExampleEvent_AppendTo_invalid() {
	_, err := sse.Event{ID: "1\ndata: injected"}.AppendTo(nil)
	fmt.Println(err)
	// Output:
	// sse: invalid field: id contains a CR, LF or NUL
}

func ExampleAppendComment() {
	os.Stdout.Write(sse.AppendComment(nil, "keep-alive"))
	// Output:
	// : keep-alive
}

func ExampleDecoder() {
	stream := "retry: 10000\n" +
		": a comment\n" +
		"id: 1\n" +
		"event: add\n" +
		"data: 73857293\n" +
		"\n" +
		"data: YHOO\r\n" +
		"data: +2\r\n" +
		"\r\n" +
		"data: unfinished"
	d := sse.NewDecoder(strings.NewReader(stream))
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("id=%q type=%q data=%q\n", ev.ID, ev.Type, ev.Data)
	}
	fmt.Println("last event ID:", d.LastEventID(), "retry:", d.Retry())
	// Output:
	// id="1" type="add" data="73857293"
	// id="1" type="" data="YHOO\n+2"
	// last event ID: 1 retry: 10s
}

func ExampleDecoder_All() {
	d := sse.NewDecoder(strings.NewReader("data: one\n\ndata: two\n\n"))
	d.MaxEventSize = 64 << 10
	for ev, err := range d.All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(ev.Data))
	}
	// Output:
	// one
	// two
}

func ExampleWriter() {
	handler := func(rw http.ResponseWriter, r *http.Request) {
		w := sse.NewWriter(rw)
		w.SetWriteTimeout(10 * time.Second) // a stalled client cannot hold the handler
		for i := range 3 {
			ev := sse.Event{ID: fmt.Sprint(i + 1), Data: fmt.Appendf(nil, "tick %d", i+1)}
			if err := w.Event(ev); err != nil {
				return // the client went away
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	for ev, err := range sse.NewDecoder(resp.Body).All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.ID, string(ev.Data))
	}
	// Output:
	// text/event-stream
	// 1 tick 1
	// 2 tick 2
	// 3 tick 3
}

package hub_test

import (
	"context"
	"fmt"
	"os"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/sse"
)

// sseFrames is how a transport encodes events, here as SSE frames: once
// per event, shared by every subscriber that drains it in this format.
var sseFrames = hub.NewFormat(func(ev *journal.Event) []byte {
	frame, _ := sse.Event{ID: ev.ID, Type: ev.Type, Data: ev.Data, Retry: ev.Retry}.MarshalText()
	return frame
})

// A subscriber's writer: wait for Ready, drain the frames of everything
// queued, write them in one go.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := journal.NewMemory(journal.Retention{})
	defer j.Close()
	h := hub.New(j, hub.Config{})
	go h.Run(ctx)
	<-h.Started()

	topics, _ := selector.ParseSet([]string{"books/{id}"})
	s, err := h.Subscribe(ctx, hub.SubscribeRequest{Selectors: topics})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	_ = h.Publish(ctx, &journal.Event{ID: "b1", Topics: []string{"books/1"}, Data: []byte(`{"title":"Dune"}`)})
	_ = h.Publish(ctx, &journal.Event{ID: "a1", Topics: []string{"authors/1"}, Data: []byte(`{}`)})
	_ = h.Publish(ctx, &journal.Event{ID: "b2", Topics: []string{"books/2"}, Type: "deleted"})

	var frames [][]byte
	for len(frames) < 2 {
		select {
		case <-s.Ready():
			frames = s.DrainFrames(sseFrames, frames)
		case <-s.Done():
			panic(s.Err())
		}
	}
	for _, f := range frames {
		os.Stdout.Write(f)
	}
	// Output:
	// id: b1
	// data: {"title":"Dune"}
	//
	// id: b2
	// event: deleted
	// data:
}

// Resuming after a Last-Event-ID: Replay streams the history, then the
// subscription goes live without a gap or a duplicate.
func ExampleSubscription_Replay() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := journal.NewMemory(journal.Retention{})
	defer j.Close()
	h := hub.New(j, hub.Config{})
	for i := range 4 {
		_ = h.Publish(ctx, &journal.Event{ID: fmt.Sprintf("e%d", i+1), Topics: []string{"news"}})
	}
	go h.Run(ctx)
	<-h.Started()

	topics, _ := selector.ParseSet([]string{"news"})
	s, err := h.Subscribe(ctx, hub.SubscribeRequest{Selectors: topics, LastEventID: "e2"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	_ = h.Publish(ctx, &journal.Event{ID: "e5", Topics: []string{"news"}})

	err = s.Replay(ctx, func(m *hub.Message) error {
		fmt.Println("replayed", m.Event.ID)
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("resumed:", s.Resumed())
	_ = h.Publish(ctx, &journal.Event{ID: "e6", Topics: []string{"news"}})
	for seen := false; !seen; {
		select {
		case <-s.Ready():
			for _, m := range s.Drain(nil) {
				fmt.Println("live", m.Event.ID)
				seen = m.Event.ID == "e6"
			}
		case <-s.Done():
			panic(s.Err())
		}
	}
	// Output:
	// replayed e3
	// replayed e4
	// replayed e5
	// resumed: true
	// live e6
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/sse"
)

func subscribe(env *Env, args []string) error {
	fs := newFlagSet(env, "subscribe", "subscribe [flags]")
	hubURL := fs.String("hub", defaultHub, "hub URL (or HERALD_HUB)")
	tok := fs.String("token", "", "subscriber JWT, sent as Bearer (or HERALD_TOKEN)")
	topics := &stringList{}
	fs.Var(topics, "topic", "topic selector: a topic, * or a URI template (repeatable)")
	last := fs.String("last-event-id", "", "resume after this event ID (earliest: everything retained)")
	asJSON := fs.Bool("json", false, "print one JSON object per event instead of SSE frames")
	count := fs.Int("n", 0, "exit after this many events (0: run until interrupted)")
	transport := fs.String("transport", "sse", "how to receive the events: sse, poll (long polling) or ws (WebSocket)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := clientEnv(env, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"subscribe takes no arguments (topics go in --topic)"}
	}
	tr, ok := transports[*transport]
	if !ok {
		return usageError{fmt.Sprintf("--transport %q: want sse, poll or ws", *transport)}
	}
	if len(topics.values) == 0 {
		return usageError{"subscribe needs at least one --topic"}
	}
	u, err := url.Parse(*hubURL)
	if err != nil {
		return usageError{"--hub: " + err.Error()}
	}
	q := u.Query()
	for _, t := range topics.values {
		q.Add("topic", t)
	}
	u.RawQuery = q.Encode()

	h := http.Header{}
	if *tok != "" {
		h.Set("Authorization", "Bearer "+*tok)
	}
	ctx, cancel := context.WithCancel(env.ctx)
	defer cancel()
	s := &client.Subscriber{
		URL: u.String(), Transport: tr, Header: h, LastEventID: *last,
		OnError: func(err error) { fmt.Fprintln(env.stderr, "herald subscribe:", err, "(reconnecting)") },
		OnCursorUnknown: func(id string) {
			fmt.Fprintf(env.stderr, "herald subscribe: the hub no longer knows event %q: replaying from the oldest event it keeps (some may be missing)\n", id)
		},
	}
	stream, err := s.Connect(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	n := 0
	var buf []byte
	for ev, err := range stream.Events() {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if *asJSON {
			b, _ := json.Marshal(struct {
				ID   string `json:"id"`
				Type string `json:"type"`
				Data string `json:"data"`
				Time string `json:"received"`
			}{ev.ID, eventType(ev), string(ev.Data), time.Now().UTC().Format(time.RFC3339Nano)})
			fmt.Fprintln(env.stdout, string(b))
		} else {
			buf, err = ev.AppendTo(buf[:0])
			if err != nil {
				return err
			}
			if _, err := env.stdout.Write(buf); err != nil {
				return err
			}
		}
		if n++; *count > 0 && n >= *count {
			return nil
		}
	}
	return nil
}

// transports are the values of subscribe's --transport.
var transports = map[string]client.Transport{
	client.TransportSSE.String():       client.TransportSSE,
	client.TransportPoll.String():      client.TransportPoll,
	client.TransportWebSocket.String(): client.TransportWebSocket,
}

func eventType(ev sse.Event) string {
	if ev.Type == "" {
		return "message"
	}
	return ev.Type
}

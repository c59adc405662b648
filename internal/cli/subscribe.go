package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/internal/auth"
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
	key := fs.String("key", "", "instead of --token: a signing `key` (as herald token takes it) to mint a fresh token before each connection, granting the --topic selectors; a stream then outlives any one token")
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
	var stream atomic.Pointer[client.Stream]
	s := &client.Subscriber{
		URL: u.String(), Transport: tr, Header: h, LastEventID: *last,
		// The error that ends the stream is the command's own, printed
		// once when it returns.
		OnError: func(err error) {
			if st := stream.Load(); st == nil && final(err) || st != nil && st.ReadyState() == client.Closed {
				return
			}
			fmt.Fprintln(env.stderr, "herald subscribe:", err, "(reconnecting)")
		},
		OnCursorUnknown: func(id string) {
			fmt.Fprintf(env.stderr, "herald subscribe: the hub no longer knows event %q: replaying from the oldest event it keeps (some may be missing)\n", id)
		},
	}
	if *key != "" {
		if *tok != "" {
			return usageError{"subscribe takes --token or --key, not both"}
		}
		k, err := auth.LoadKey(*key)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		s.BeforeConnect = func(req *http.Request) error {
			t, err := auth.Mint(k, auth.MintClaims{Subscribe: topics.values, TTL: time.Hour})
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+t)
			return nil
		}
	}
	st, err := s.Connect(ctx)
	if err != nil {
		return err
	}
	stream.Store(st)
	defer st.Close()
	n := 0
	var buf []byte
	for ev, err := range st.Events() {
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

// final reports whether err ends a subscription's first connection, which
// Connect then returns rather than retries.
func final(err error) bool {
	var closed *client.CloseError
	switch {
	case errors.Is(err, client.ErrBadStatus), errors.Is(err, client.ErrBadContentType), errors.Is(err, client.ErrGaveUp):
		return true
	case errors.As(err, &closed):
		return !closed.Temporary()
	}
	return false
}

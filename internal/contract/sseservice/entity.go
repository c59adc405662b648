package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldhub/herald/client"
	"github.com/heraldhub/herald/sse"
)

// entity is one stream the suite asked for, with its callbacks.
type entity struct {
	log         *slog.Logger
	callbacks   *http.Client
	callbackURL string
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}

	counter int // callbacks posted; only the stream's goroutine posts

	mu        sync.Mutex
	stream    *client.Stream // nil until connected
	listening map[string]bool
}

func newEntity(log *slog.Logger, callbacks *http.Client, callbackURL string) *entity {
	ctx, cancel := context.WithCancel(context.Background())
	return &entity{
		log:         log,
		callbacks:   callbacks,
		callbackURL: strings.TrimSuffix(callbackURL, "/"),
		ctx:         ctx,
		cancel:      cancel,
		done:        make(chan struct{}),
		// Events without a type are "message" events, which an
		// EventSource application listens for without being told.
		listening: map[string]bool{"message": true},
	}
}

// start connects sub and reports what the stream receives until the entity
// is closed. Every callback is posted from the stream's goroutine, so the
// counter follows the order in which things happened.
func (e *entity) start(sub *client.Subscriber) {
	sub.OnComment = func(text string) { e.post(map[string]any{"kind": "comment", "comment": text}) }
	sub.OnError = func(err error) {
		// The specification names the message "comment"; the suite's code
		// reads "error". Both are sent.
		e.post(map[string]any{"kind": "error", "error": err.Error(), "comment": err.Error()})
	}
	go func() {
		defer close(e.done)
		st, err := sub.Connect(e.ctx)
		if err != nil {
			return // reported through OnError
		}
		e.mu.Lock()
		e.stream = st
		for eventType := range e.listening {
			st.AddListener(eventType, e.onEvent)
		}
		e.mu.Unlock()
		st.Run()
	}()
}

func (e *entity) onEvent(ev sse.Event) {
	e.post(map[string]any{"kind": "event", "event": map[string]string{
		"type": cmp.Or(ev.Type, "message"),
		"data": string(ev.Data),
		"id":   ev.ID,
	}})
}

// listen makes the stream report the events of eventType.
func (e *entity) listen(eventType string) {
	// As for AddListener, "" is "message", which is listened for already.
	eventType = cmp.Or(eventType, "message")
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.listening[eventType] {
		return
	}
	e.listening[eventType] = true
	if e.stream != nil {
		e.stream.AddListener(eventType, e.onEvent)
	}
}

var errNotConnected = errors.New("the stream has not connected yet")

// restart drops the stream's connection and reconnects.
func (e *entity) restart() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stream == nil {
		return errNotConnected
	}
	e.stream.Restart()
	return nil
}

// close ends the stream and waits until it has posted its last callback.
func (e *entity) close() {
	e.cancel()
	<-e.done
}

// post sends one callback message. A failure is logged and otherwise
// ignored: the suite notices missing messages by itself.
func (e *entity) post(msg map[string]any) {
	e.counter++
	body, err := json.Marshal(msg)
	if err != nil {
		e.log.Error("encoding callback", "err", err)
		return
	}
	url := e.callbackURL + "/" + strconv.Itoa(e.counter)
	// e.callbacks has the timeout; e.ctx cuts a post short on close.
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		e.log.Error("callback", "url", url, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.callbacks.Do(req)
	if err != nil {
		e.log.Warn("callback", "url", url, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRequest))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		e.log.Warn("callback refused", "url", url, "status", resp.Status)
	}
}

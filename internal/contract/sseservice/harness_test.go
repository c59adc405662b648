package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/testutil"
)

// This file plays the part of the contract test suite: it runs the
// service, a scripted event-stream server and a callback receiver, all on
// httptest servers.

// message is one callback, as the suite decodes it.
type message struct {
	Kind  string `json:"kind"`
	Event *struct {
		Type string `json:"type"`
		Data string `json:"data"`
		ID   string `json:"id"`
	} `json:"event"`
	Comment string `json:"comment"`
	Error   string `json:"error"`
}

func (m message) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// receiver collects the callbacks of one stream and hands them out in
// counter order, however they arrived.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received map[int]message
	next     int
	arrived  chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{received: make(map[int]message), next: 1, arrived: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/endpoints/7/"))
		var m message
		if err == nil {
			err = json.NewDecoder(req.Body).Decode(&m)
		}
		if err != nil {
			t.Errorf("bad callback %s: %v", req.URL.Path, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		if _, dup := r.received[n]; dup {
			t.Errorf("callback counter %d used twice", n)
		}
		r.received[n] = m
		r.mu.Unlock()
		select {
		case r.arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

// URL returns the base callback URL given to the service.
func (r *receiver) URL() string { return r.Server.URL + "/endpoints/7" }

// Next returns the next message.
func (r *receiver) Next(t *testing.T) message {
	t.Helper()
	timeout := time.After(testutil.WaitTimeout)
	for {
		r.mu.Lock()
		m, ok := r.received[r.next]
		if ok {
			delete(r.received, r.next)
			r.next++
		}
		r.mu.Unlock()
		if ok {
			return m
		}
		select {
		case <-r.arrived:
		case <-timeout:
			t.Fatalf("no callback %d", r.next)
		}
	}
}

// NextEvent returns the next message, which must be an event.
func (r *receiver) NextEvent(t *testing.T) (typ, data, id string) {
	t.Helper()
	m := r.Next(t)
	if m.Kind != "event" || m.Event == nil {
		t.Fatalf("got %v, want an event", m)
	}
	return m.Event.Type, m.Event.Data, m.Event.ID
}

// Pending returns the messages received and not yet handed out.
func (r *receiver) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

// harness is the suite's side of a test: the service, a stream server and
// the callback receiver of the last stream opened.
type harness struct {
	svc     *service
	service *httptest.Server
	stream  *testutil.ScriptedServer
	calls   *receiver
}

func newHarness(t *testing.T) *harness {
	h := &harness{svc: newService(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	h.stream = testutil.NewScriptedServer(t)
	h.calls = newReceiver(t)
	h.service = httptest.NewServer(h.svc)
	t.Cleanup(h.service.Close)
	t.Cleanup(h.svc.Close) // runs first: the streams end before the servers
	return h
}

// do sends a request to the service and returns the response, its body
// read.
func (h *harness) do(t *testing.T, method, url string, body any) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.service.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// open creates a stream with params, completed with the stream URL unless
// it is set, and a callback URL of a new receiver, which becomes h.calls.
// It returns the stream's resource URL.
func (h *harness) open(t *testing.T, params map[string]any) string {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if _, ok := params["streamUrl"]; !ok {
		params["streamUrl"] = h.stream.URL
	}
	h.calls = newReceiver(t)
	params["callbackUrl"] = h.calls.URL()
	resp, body := h.do(t, http.MethodPost, h.service.URL, params)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("create stream: %s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, h.service.URL+"/") {
		t.Fatalf("Location = %q, want a URL of the service", loc)
	}
	return loc
}

// command sends a command to the stream at loc and fails unless it is
// accepted.
func (h *harness) command(t *testing.T, loc string, cmd map[string]any) {
	t.Helper()
	if resp, body := h.do(t, http.MethodPost, loc, cmd); resp.StatusCode/100 != 2 {
		t.Fatalf("command %v: %s %s", cmd, resp.Status, body)
	}
}

func (h *harness) listen(t *testing.T, loc, eventType string) {
	t.Helper()
	h.command(t, loc, map[string]any{"command": "listen", "listen": map[string]string{"type": eventType}})
}

// expectEvent fails unless the next callback is the event described.
func (h *harness) expectEvent(t *testing.T, typ, data, id string) {
	t.Helper()
	gt, gd, gi := h.calls.NextEvent(t)
	if gt != typ || gd != data || gi != id {
		t.Errorf("event = (%q, %q, %q), want (%q, %q, %q)", gt, gd, gi, typ, data, id)
	}
}

func fmtEvents(n int) (stream string, data []string) {
	for i := range n {
		d := fmt.Sprintf("message %d", i)
		stream += "data: " + d + "\n\n"
		data = append(data, d)
	}
	return stream, data
}

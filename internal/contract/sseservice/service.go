package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhub/herald/client"
)

// capabilities are the optional features of the suite that package client
// has. Each is exercised by sseservice_test.go.
var capabilities = []string{
	"comments",             // Subscriber.OnComment
	"headers",              // Subscriber.Header
	"last-event-id",        // Subscriber.LastEventID
	"post",                 // Subscriber.Method and Body
	"report",               // any method, REPORT included
	"read-timeout",         // Subscriber.ReadTimeout
	"restart",              // Stream.Restart
	"event-type-listeners", // Stream.AddListener, EventSource style
	"204",                  // a 204 response stops the stream for good
	"bom",                  // the decoder skips a leading byte order mark
	"empty-or-missing-location",
	"payload-size-stress-testable", // with the limits raised below
}

// maxPayload is the decoder limit of the streams the service opens: above
// the largest events of the suite's stress tests (a few MiB).
const maxPayload = 16 << 20

// maxRequest bounds the body of a request to the service.
const maxRequest = 1 << 20

// service is the test service's HTTP handler.
type service struct {
	log       *slog.Logger
	mux       *http.ServeMux
	streams   *http.Client // opens the event streams
	callbacks *http.Client // posts the callbacks

	mu       sync.Mutex
	entities map[string]*entity
	next     int

	quit     chan struct{}
	quitOnce sync.Once
}

func newService(log *slog.Logger) *service {
	s := &service{
		log:       log,
		mux:       http.NewServeMux(),
		streams:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		callbacks: &http.Client{Timeout: 10 * time.Second},
		entities:  make(map[string]*entity),
		quit:      make(chan struct{}),
	}
	s.mux.HandleFunc("GET /{$}", s.status)
	s.mux.HandleFunc("POST /{$}", s.create)
	s.mux.HandleFunc("DELETE /{$}", s.stop)
	s.mux.HandleFunc("POST /streams/{id}", s.command)
	s.mux.HandleFunc("DELETE /streams/{id}", s.remove)
	return s
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Done is closed when a client has asked the service to quit.
func (s *service) Done() <-chan struct{} { return s.quit }

// Close closes every stream and waits for them to end.
func (s *service) Close() {
	s.mu.Lock()
	all := s.entities
	s.entities = make(map[string]*entity)
	s.mu.Unlock()
	for _, e := range all {
		e.close()
	}
	s.streams.CloseIdleConnections()
	s.callbacks.CloseIdleConnections()
}

func (s *service) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"name": "herald client", "capabilities": capabilities})
}

func (s *service) stop(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
	s.quitOnce.Do(func() { close(s.quit) })
}

// createParams is the body of POST /.
type createParams struct {
	StreamURL      string            `json:"streamUrl"`
	CallbackURL    string            `json:"callbackUrl"`
	Tag            string            `json:"tag"`
	InitialDelayMs *int64            `json:"initialDelayMs"`
	ReadTimeoutMs  *int64            `json:"readTimeoutMs"`
	LastEventID    string            `json:"lastEventId"`
	Method         string            `json:"method"`
	Body           string            `json:"body"`
	Headers        map[string]string `json:"headers"`
}

// subscriber validates p and returns the Subscriber it describes.
func (p *createParams) subscriber() (*client.Subscriber, error) {
	for name, u := range map[string]string{"streamUrl": p.StreamURL, "callbackUrl": p.CallbackURL} {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") {
			return nil, fmt.Errorf("%s %q is not an http(s) URL", name, u)
		}
	}
	sub := &client.Subscriber{
		URL:          p.StreamURL,
		Method:       p.Method,
		Header:       make(http.Header),
		LastEventID:  p.LastEventID,
		MaxLineSize:  maxPayload,
		MaxEventSize: maxPayload,
	}
	for name, value := range p.Headers {
		sub.Header.Set(name, value)
	}
	if p.Body != "" {
		sub.Body = []byte(p.Body)
	}
	if p.InitialDelayMs != nil {
		if *p.InitialDelayMs < 0 {
			return nil, errors.New("initialDelayMs is negative")
		}
		// 0 would select the client's default; the suite means "at once",
		// and a millisecond is as good.
		sub.InitialRetry = max(time.Duration(*p.InitialDelayMs)*time.Millisecond, time.Millisecond)
	}
	if p.ReadTimeoutMs != nil {
		if *p.ReadTimeoutMs <= 0 {
			return nil, errors.New("readTimeoutMs is not positive")
		}
		sub.ReadTimeout = time.Duration(*p.ReadTimeoutMs) * time.Millisecond
	}
	return sub, nil
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var p createParams
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&p); err != nil {
		http.Error(w, "malformed parameters: "+err.Error(), http.StatusBadRequest)
		return
	}
	sub, err := p.subscriber()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sub.HTTPClient = s.streams

	s.mu.Lock()
	s.next++
	id := strconv.Itoa(s.next)
	e := newEntity(s.log.With("stream", id, "tag", p.Tag), s.callbacks, p.CallbackURL)
	s.entities[id] = e
	s.mu.Unlock()
	// The stream connects in the background: the suite only starts
	// serving it once this request has been answered.
	e.start(sub)

	w.Header().Set("Location", (&url.URL{Scheme: "http", Host: r.Host, Path: "/streams/" + id}).String())
	w.WriteHeader(http.StatusCreated)
}

// commandParams is the body of POST /streams/{id}.
type commandParams struct {
	Command string `json:"command"`
	Listen  *struct {
		Type string `json:"type"`
	} `json:"listen"`
}

func (s *service) command(w http.ResponseWriter, r *http.Request) {
	e := s.entity(r.PathValue("id"))
	if e == nil {
		http.Error(w, "no such stream", http.StatusNotFound)
		return
	}
	var p commandParams
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&p); err != nil {
		http.Error(w, "malformed command: "+err.Error(), http.StatusBadRequest)
		return
	}
	var err error
	switch {
	case p.Command == "listen" && p.Listen != nil:
		e.listen(p.Listen.Type)
	case p.Command == "restart":
		err = e.restart()
	default:
		http.Error(w, fmt.Sprintf("unknown command %q", p.Command), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) remove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	e := s.entities[id]
	delete(s.entities, id)
	s.mu.Unlock()
	if e == nil {
		http.Error(w, "no such stream", http.StatusNotFound)
		return
	}
	e.close()
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) entity(id string) *entity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entities[id]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

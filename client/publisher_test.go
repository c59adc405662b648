package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"
)

// hubStub answers publish requests, recording the last one.
type hubStub struct {
	*httptest.Server
	mu     sync.Mutex
	form   url.Values
	header http.Header
}

func newHubStub(t *testing.T, status int, body string) *hubStub {
	h := &hubStub{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if err != nil {
			t.Errorf("body %q is not form-encoded: %v", b, err)
		}
		h.mu.Lock()
		h.form, h.header = form, r.Header.Clone()
		h.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(h.Close)
	return h
}

// last returns the form and headers of the last request.
func (h *hubStub) last() (url.Values, http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.form, h.header
}

func TestPublish(t *testing.T) {
	hub := newHubStub(t, http.StatusOK, "urn:uuid:42")
	p := &client.Publisher{URL: hub.URL, Token: "jwt", HTTPClient: hub.Client()}
	id, err := p.Publish(context.Background(), client.Update{
		Topics:  []string{"https://example.com/books/1", "books"},
		Data:    []byte("line 1\nline 2 & more"),
		ID:      "my-id",
		Type:    "update",
		Retry:   1500*time.Millisecond + time.Microsecond,
		Private: true,
	})
	if err != nil || id != "urn:uuid:42" {
		t.Fatalf("Publish = %q, %v; want urn:uuid:42", id, err)
	}
	form, header := hub.last()
	if got := header.Get("Authorization"); got != "Bearer jwt" {
		t.Errorf("Authorization = %q", got)
	}
	if got := header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", got)
	}
	want := url.Values{
		"topic":   {"https://example.com/books/1", "books"},
		"data":    {"line 1\nline 2 & more"},
		"id":      {"my-id"},
		"type":    {"update"},
		"retry":   {"1501"}, // rounded up: never shorter than asked
		"private": {"on"},
	}
	for k, v := range want {
		if !slices.Equal(form[k], v) {
			t.Errorf("form %s = %q, want %q", k, form[k], v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form = %v, want exactly %v", form, want)
	}
}

func TestPublishMinimal(t *testing.T) {
	hub := newHubStub(t, http.StatusOK, "id-1\n")
	p := &client.Publisher{URL: hub.URL}
	id, err := p.Publish(context.Background(), client.Update{Topics: []string{"t"}})
	if err != nil || id != "id-1" {
		t.Fatalf("Publish = %q, %v; want id-1", id, err)
	}
	form, header := hub.last()
	if _, ok := header["Authorization"]; ok {
		t.Error("Authorization sent without a token")
	}
	if want := (url.Values{"topic": {"t"}}); len(form) != 1 || form.Get("topic") != "t" {
		t.Errorf("form = %v, want %v", form, want)
	}
}

func TestPublishRefused(t *testing.T) {
	hub := newHubStub(t, http.StatusForbidden, "not allowed to publish to t\n")
	p := &client.Publisher{URL: hub.URL}
	_, err := p.Publish(context.Background(), client.Update{Topics: []string{"t"}})
	var se *client.StatusError
	if !errors.As(err, &se) || !errors.Is(err, client.ErrBadStatus) {
		t.Fatalf("Publish = %v, want a StatusError", err)
	}
	if se.StatusCode != http.StatusForbidden || se.Message != "not allowed to publish to t" {
		t.Errorf("StatusError = %+v", se)
	}
	if got := err.Error(); got != "client: HTTP 403 Forbidden: not allowed to publish to t" {
		t.Errorf("Error() = %q", got)
	}
}

func TestPublishNoTopic(t *testing.T) {
	p := &client.Publisher{URL: "http://127.0.0.1:1/unused"}
	if _, err := p.Publish(context.Background(), client.Update{Data: []byte("x")}); !errors.Is(err, client.ErrNoTopic) {
		t.Errorf("Publish without topic = %v, want ErrNoTopic", err)
	}
}

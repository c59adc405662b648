package server

import (
	"encoding/json"
	"net/http"
)

// httpError is an error with what the client sees: a status and a message
// that is safe to show. What caused it is logged, never sent.
type httpError struct {
	status int
	msg    string
	// retryAfter, when set, is the Retry-After header (seconds);
	// challenge the WWW-Authenticate header.
	retryAfter string
	challenge  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, msg string) *httpError { return &httpError{status: status, msg: msg} }

// defaultRetryAfter is the Retry-After, in seconds, of a 503 whose caller
// chose none. Every 503 is temporary (draining, a journal that cannot
// commit, a full server), and a client told nothing guesses. Herald's own
// client waits for the header; a few seconds let a failing journal
// recover without a crowd retrying at once.
const defaultRetryAfter = "5"

// writeError answers with a plain-text error, as Mercure hubs do. A 503
// always carries Retry-After.
func writeError(w http.ResponseWriter, e *httpError) {
	h := w.Header()
	switch {
	case e.retryAfter != "":
		h.Set("Retry-After", e.retryAfter)
	case e.status == http.StatusServiceUnavailable && h.Get("Retry-After") == "":
		h.Set("Retry-After", defaultRetryAfter)
	}
	if e.challenge != "" {
		h.Set("WWW-Authenticate", e.challenge)
	}
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.msg + "\n"))
}

// writeJSON answers with v as JSON (or JSON-LD when contentType says so).
func writeJSON(w http.ResponseWriter, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "internal error"))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

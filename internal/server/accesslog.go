package server

import (
	"bufio"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// The access log (Config.AccessLog) writes one line per request when its
// handler returns. For an ordinary request, a poll, and a stream written
// from its own goroutine (HTTP/2, TLS, --goroutine-streams) that is when
// the answer ends, so the line has the whole duration and body size. A
// push stream or a WebSocket hijacks its connection and hands it on, so
// its line is written at the stream's start, with the status written on
// the connection (200 or 101) and hijacked=true: its bytes count only what
// went through net/http, and its end is in the debug log ("stream ended").
// The URL's query is not logged: it may carry a token (authorization=).

// requestIDHeader carries a request's ID, both ways.
const requestIDHeader = "X-Request-ID"

// maxRequestIDLength bounds an incoming request ID that is kept.
const maxRequestIDLength = 128

// serveLogged serves r through serve and logs it.
func (s *Server) serveLogged(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get(requestIDHeader)
	if !saneRequestID(id) {
		id = rand.Text()
	}
	w.Header().Set(requestIDHeader, id)
	aw := &accessWriter{ResponseWriter: w}
	s.serve(aw, r)
	status := aw.finalStatus()
	s.metrics.answered(status)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", aw.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
		slog.String("request_id", id),
	}
	if aw.hijacked {
		attrs = append(attrs, slog.Bool("hijacked", true))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// saneRequestID reports whether an incoming request ID may be kept: short,
// and of characters that need no quoting in a log or a header (UUIDs,
// ULIDs, hex, base64 and trace IDs such as "1-5759e988-bd862e3fe1be46a9").
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// finalStatus is the status the client was answered.
func (a *accessWriter) finalStatus() int {
	if a.status == 0 && !a.hijacked {
		return http.StatusOK // net/http answers 200 to a handler that wrote nothing
	}
	return a.status
}

// accessWriter records what a handler answers, for the access log and
// the responses' metrics.
// http.ResponseController reaches the connection through Unwrap (Flush,
// write deadlines); Hijack is a method of its own, since canPush asks for
// an http.Hijacker and the log must know of it.
type accessWriter struct {
	http.ResponseWriter
	status   int   // the final status; 0 until written
	bytes    int64 // body bytes written through net/http
	hijacked bool
}

func (a *accessWriter) WriteHeader(code int) {
	if a.status == 0 && code >= 200 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	n, err := a.ResponseWriter.Write(b)
	a.bytes += int64(n)
	return n, err
}

// Hijack takes the connection; the handler then tells the status it wrote
// on it with hijackedStatus.
func (a *accessWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(a.ResponseWriter).Hijack()
	if err == nil {
		a.hijacked = true
	}
	return c, rw, err
}

func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// hijackedStatus tells the access log and the metrics the status a
// handler wrote on a connection it hijacked, which net/http does not see.
func hijackedStatus(w http.ResponseWriter, status int) {
	if a, ok := w.(*accessWriter); ok && a.hijacked {
		a.status = status
	}
}
